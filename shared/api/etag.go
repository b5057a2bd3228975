package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// withETag serves a GET route with a weak ETag, a hash of its 200 body,
// and Cache-Control: no-cache (a browser keeps the body and revalidates
// each time). A request whose If-None-Match names that ETag (or is "*")
// gets 304 Not Modified with no body: an idle poll costs one small
// request. Errors and other statuses pass through untouched.
func withETag(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bw := &bufferedWriter{header: w.Header()}
		h.ServeHTTP(bw, r)
		status := bw.status
		if status == 0 {
			status = http.StatusOK
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
			_, _ = w.Write(bw.body.Bytes())
			return
		}
		tag := weakETag(bw.body.Bytes())
		w.Header().Set("ETag", tag)
		w.Header().Set("Cache-Control", "no-cache")
		if etagMatches(r.Header.Get("If-None-Match"), tag) {
			for _, k := range []string{"Content-Type", "Content-Length"} {
				w.Header().Del(k)
			}
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(bw.body.Len()))
		w.WriteHeader(status)
		_, _ = w.Write(bw.body.Bytes())
	})
}

// weakETag is W/"<first 16 bytes of the body's SHA-256, in hex>". Weak:
// the same JSON, not necessarily the same bytes on the wire (API Gateway
// may compress it).
func weakETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `W/"` + hex.EncodeToString(sum[:16]) + `"`
}

// etagMatches reports whether an If-None-Match header names tag, by weak
// comparison (RFC 9110 13.1.2): W/ prefixes are ignored.
func etagMatches(header, tag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(tag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// bufferedWriter holds a response so that its ETag can be computed
// before it is sent. Headers go straight to the real writer's map.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
