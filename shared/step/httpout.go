package step

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Limits on HTTP requests and what is kept of their responses.
const (
	MaxHeaders          = 32
	MaxHeaderValueBytes = 1024
	MaxBodyBytes        = 64 << 10 // a request body, as sent
	MaxResponseBytes    = 1 << 20  // read of a response body
	// MaxBodyOutputBytes caps the response body kept in an HTTP_CALL's
	// output; a longer one is cut (a string, "truncated": true).
	MaxBodyOutputBytes = 48 << 10
	// MaxHeaderOutputBytes caps the response headers kept in an output.
	MaxHeaderOutputBytes = 8 << 10
)

// reservedHeaders may not be set by a step: the transport or the worker
// sets them.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Proxy-Authorization": true,
}

// checkHeaders validates request headers.
func checkHeaders(field string, h map[string]string) error {
	if len(h) > MaxHeaders {
		return invalid(field, "must hold at most %d headers (got %d)", MaxHeaders, len(h))
	}
	for name, v := range h {
		if !validToken(name) {
			return invalid(field, "%q is not a valid header name", name)
		}
		canon := http.CanonicalHeaderKey(name)
		if reservedHeaders[canon] || strings.HasPrefix(canon, "X-Jobweaver-") {
			return invalid(field, "%s is set by the worker and may not be given", canon)
		}
		if len(v) > MaxHeaderValueBytes {
			return invalid(field, "%s: a value may hold at most %d bytes", canon, MaxHeaderValueBytes)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return invalid(field, "%s: a value may not hold CR, LF or NUL", canon)
		}
	}
	return nil
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// checkBody validates a request body: any JSON value; a string is sent as
// its text, anything else as compact JSON.
func checkBody(field string, raw json.RawMessage) error {
	if raw == nil {
		return nil
	}
	b, _ := requestBody(raw)
	if len(b) > MaxBodyBytes {
		return invalid(field, "must be at most %d bytes as sent (got %d)", MaxBodyBytes, len(b))
	}
	return nil
}

// requestBody is the bytes a body is sent as and their default
// Content-Type.
func requestBody(raw json.RawMessage) ([]byte, string) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, ""
	}
	var s string
	if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return []byte(s), "text/plain; charset=utf-8"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return raw, "application/json"
	}
	return buf.Bytes(), "application/json"
}

// checkURL validates an absolute http(s) URL without credentials.
// checkRequest checks an outgoing request's url, headers and body, and
// its method: one of methods, the first when method is empty (set in
// place). HTTP_CALL and WEBHOOK differ only in their methods.
func checkRequest(url string, method *string, methods []string, headers map[string]string, body json.RawMessage) error {
	if err := checkURL("url", url); err != nil {
		return err
	}
	switch {
	case *method == "":
		*method = methods[0]
	case !slices.Contains(methods, *method):
		return invalid("method", "must be %s or %s (got %q)", strings.Join(methods[:len(methods)-1], ", "), methods[len(methods)-1], *method)
	}
	if err := checkHeaders("headers", headers); err != nil {
		return err
	}
	return checkBody("body", body)
}

func checkURL(field, s string) error {
	if len(s) > MaxURLBytes {
		return invalid(field, "must be at most %d bytes", MaxURLBytes)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return invalid(field, "must be an absolute http or https URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return invalid(field, "scheme must be http or https (got %q)", u.Scheme)
	}
	if u.User != nil {
		return invalid(field, "must not carry credentials")
	}
	return nil
}

// responseHeaders keeps a response's headers, values of one name joined
// by ", ", within MaxHeaderOutputBytes (sorted by name; the rest dropped).
func responseHeaders(h http.Header) map[string]string {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(map[string]string, len(names))
	size := 0
	for _, n := range names {
		v := strings.Join(h[n], ", ")
		if len(v) > MaxHeaderValueBytes {
			v = cut(v, MaxHeaderValueBytes)
		}
		if size+len(n)+len(v)+6 > MaxHeaderOutputBytes {
			break
		}
		size += len(n) + len(v) + 6
		out[n] = v
	}
	return out
}

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// httpOutput is HTTP_CALL's output.
type httpOutput struct {
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"` // parsed JSON, a string, or null
	BodyBytes int64             `json:"bodyBytes"`
	Truncated bool              `json:"truncated,omitempty"`
}

// readOutput reads up to MaxResponseBytes of resp's body into an output:
// JSON kept as JSON when it fits, else text, cut to fit (non-UTF-8 bodies
// are not kept).
func readOutput(resp *http.Response) json.RawMessage {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	n, _ := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<20))
	o := httpOutput{Status: resp.StatusCode, Headers: responseHeaders(resp.Header), BodyBytes: int64(len(b)) + n, Body: json.RawMessage("null")}
	if n > 0 {
		o.Truncated = true
	}
	trimmed := bytes.TrimSpace(b)
	switch {
	case len(trimmed) == 0:
	case len(trimmed) <= MaxBodyOutputBytes && n == 0 && json.Valid(trimmed):
		var buf bytes.Buffer
		_ = json.Compact(&buf, trimmed)
		if buf.Len() <= MaxBodyOutputBytes {
			o.Body = buf.Bytes()
		} else {
			o.Body = marshal(cut(string(trimmed), MaxBodyOutputBytes/6))
			o.Truncated = true
		}
	case utf8.Valid(b) || utf8.Valid(b[:len(b)-min(len(b), 3)]):
		s := strings.ToValidUTF8(string(b), "")
		// Escaping may grow a string up to six times: cut to fit.
		c := cut(s, MaxBodyOutputBytes)
		enc := marshal(c)
		for len(enc) > MaxBodyOutputBytes {
			c = cut(c, len(c)/2)
			enc = marshal(c)
		}
		if len(c) < len(s) {
			o.Truncated = true
		}
		o.Body = enc
	default:
		o.Truncated = true
	}
	return marshal(o)
}

// marshal encodes v without HTML escaping (a < in an output stays one
// byte).
func marshal(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimRight(buf.Bytes(), "\n")
}
