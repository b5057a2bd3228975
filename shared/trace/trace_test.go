package trace

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestValidID(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		id string
		ok bool
	}{
		{"abc", true},
		{uuid.NewString(), true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"Root=1-5759e988-bd862e3fe1be46a994272793", false}, // '=' is not allowed
		{"1-5759e988-bd862e3fe1be46a994272793", true},
		{"a.b_c:d-E9", true},
		{strings.Repeat("x", MaxHTTPLen), true},
		{strings.Repeat("x", MaxHTTPLen+1), false},
		{"", false},
		{"has space", false},
		{"tab\there", false},
		{"line\nbreak", false},
		{"cr\rlf", false},
		{"nul\x00", false},
		{"esc\x1b[31m", false},
		{"del\x7f", false},
		{"ünïcode", false},
		{"a/b", false},
		{`quote"`, false},
		{"<script>", false},
	} {
		if got := ValidID(c.id); got != c.ok {
			t.Errorf("ValidID(%q) = %v, want %v", c.id, got, c.ok)
		}
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	var inCtx string
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inCtx = TraceID(r.Context()) }))
	serve := func(sent *string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if sent != nil {
			r.Header.Set(HTTPHeader, *sent)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	keep := "client-trace:1"
	if w := serve(&keep); w.Header().Get(HTTPHeader) != keep || inCtx != keep || w.Header().Get(ReplacedHeader) != "" {
		t.Errorf("valid id: header %v, context %q", w.Header(), inCtx)
	}
	if w := serve(nil); uuid.Validate(w.Header().Get(HTTPHeader)) != nil || w.Header().Get(ReplacedHeader) != "" {
		t.Errorf("no id: header %v", w.Header())
	}
	for _, bad := range []string{"evil\x1b[2J", "a b", strings.Repeat("y", 200)} {
		w := serve(&bad)
		got := w.Header().Get(HTTPHeader)
		if uuid.Validate(got) != nil || inCtx != got || w.Header().Get(ReplacedHeader) != "true" {
			t.Errorf("invalid id %q: header %v, context %q", bad, w.Header(), inCtx)
		}
	}
}

func FuzzFromHeader(f *testing.F) {
	for _, s := range []string{"abc", "a\x00b", "\r\n", strings.Repeat("z", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sent string) {
		h := http.Header{}
		h.Set(HTTPHeader, sent)
		id, replaced := FromHeader(h)
		if !ValidID(id) {
			t.Fatalf("FromHeader(%q) = %q, not a valid id", sent, id)
		}
		if replaced == (id == h.Get(HTTPHeader)) && h.Get(HTTPHeader) != "" {
			t.Fatalf("FromHeader(%q) = %q, replaced %v", sent, id, replaced)
		}
	})
}
