// Package auth is the public API's access control: the format of API keys
// (GitHub-style: a recognisable prefix, 256 bits of entropy and a
// checksum, so that secret scanners find leaked keys and a mistyped key is
// refused without a database lookup), how they are stored (only a SHA-256
// hash) and compared (in constant time), the roles viewer < operator <
// admin, the minimum role of every route, the caller of a request, and
// JWTs from an OIDC issuer (JWTVerifier, with github.com/coreos/go-oidc).
//
// A key reads jw_ + 43 base62 characters (32 bytes from crypto/rand) + 6
// base62 characters (the CRC32 of the 43), 52 characters in all. The api
// function keeps a key's Hash, its DisplayPrefix (shown in listings) and
// its role; the key itself is shown once, when it is created.
//
// See docs/security.md for the model as a whole.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"strings"
)

// Prefix starts every API key.
const Prefix = "jw_"

// Lengths of a key's parts.
const (
	entropyBytes = 32
	bodyLen      = 43 // base62 digits of 32 bytes: 62^43 > 2^256
	checksumLen  = 6  // base62 digits of a CRC32: 62^6 > 2^32
	// KeyLen is the length of a whole key.
	KeyLen = len(Prefix) + bodyLen + checksumLen
	// displayLen is how much of a key DisplayPrefix keeps.
	displayLen = len(Prefix) + 8
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Generate returns a new random API key.
func Generate() (string, error) {
	b := make([]byte, entropyBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: random key: %w", err)
	}
	body := encode62(new(big.Int).SetBytes(b), bodyLen)
	return Prefix + body + checksum(body), nil
}

// Valid reports whether key has the format of an API key and a correct
// checksum. It says nothing about whether the key exists.
func Valid(key string) bool {
	if len(key) != KeyLen || !strings.HasPrefix(key, Prefix) {
		return false
	}
	rest := key[len(Prefix):]
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(base62, rest[i]) < 0 {
			return false
		}
	}
	body, sum := rest[:bodyLen], rest[bodyLen:]
	return subtle.ConstantTimeCompare([]byte(checksum(body)), []byte(sum)) == 1
}

// Hash is what is stored of a key: its SHA-256.
func Hash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// Equal compares two hashes in constant time.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// DisplayPrefix is the start of a key that listings show (jw_ and 8
// characters: enough to tell keys apart, far too little to guess the rest).
func DisplayPrefix(key string) string {
	if len(key) < displayLen {
		return key
	}
	return key[:displayLen]
}

// checksum is the CRC32 (IEEE) of body in 6 base62 digits.
func checksum(body string) string {
	return encode62(new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(body)))), checksumLen)
}

// encode62 writes n in base62, left-padded with zeros to width digits.
func encode62(n *big.Int, width int) string {
	out := make([]byte, width)
	base, mod := big.NewInt(62), new(big.Int)
	n = new(big.Int).Set(n)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = base62[mod.Int64()]
	}
	return string(out)
}

// Role is what a caller may do. Roles are ordered: each may do what the
// ones below it may.
type Role int

// The roles, lowest first. Open is not a role a caller has: it is the
// minimum of a route that needs no credentials.
const (
	Open Role = iota
	Viewer
	Operator
	Admin
)

// Roles names the roles a key may have, lowest first.
var Roles = []Role{Viewer, Operator, Admin}

func (r Role) String() string {
	switch r {
	case Open:
		return "open"
	case Viewer:
		return "viewer"
	case Operator:
		return "operator"
	case Admin:
		return "admin"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Allows reports whether a caller with role r may use a route that needs
// need.
func (r Role) Allows(need Role) bool { return r >= need }

// ErrUnknownRole is ParseRole's error.
var ErrUnknownRole = errors.New("role must be viewer, operator or admin")

// ParseRole reads a role's name (viewer, operator or admin).
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if s == r.String() {
			return r, nil
		}
	}
	return 0, ErrUnknownRole
}

// MarshalText writes the role's name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a role's name (ParseRole).
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Anonymous is the caller when access control is off (API_AUTH=none).
const Anonymous = "anonymous"

// Caller is who sent a request.
type Caller struct {
	// ID names the caller in records (a DLQ action's "by", the audit):
	// an API key's ID, or Anonymous.
	ID   string
	Role Role
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerOf returns the caller ctx carries; without one, Anonymous (with no
// role).
func CallerOf(ctx context.Context) Caller {
	if c, ok := ctx.Value(callerKey{}).(Caller); ok {
		return c
	}
	return Caller{ID: Anonymous}
}
