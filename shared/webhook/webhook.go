package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Header names of a delivery.
const (
	HeaderSignature = "X-JobWeaver-Signature"
	HeaderTimestamp = "X-JobWeaver-Timestamp"
	HeaderDelivery  = "X-JobWeaver-Delivery"
	HeaderAttempt   = "X-JobWeaver-Attempt"
)

// SignaturePrefix starts every signature header value.
const SignaturePrefix = "sha256="

// Sign returns the signature header value of body under secret:
// "sha256=" and the lower-case hex HMAC-SHA256 of body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return SignaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header (a signature header value) is body's
// signature under secret. It compares in constant time and accepts
// upper- or lower-case hex.
func Verify(secret, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(header), SignaturePrefix)
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}
