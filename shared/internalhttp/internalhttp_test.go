package internalhttp_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/internalhttp"
	"github.com/jobweaver/jobweaver/shared/trace"
)

func TestRoutes(t *testing.T) {
	t.Parallel()
	h := internalhttp.Routes{
		Namespace: "THING",
		Handlers: map[string]http.HandlerFunc{
			"GET /internal/things":            func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("list")) },
			"GET /internal/things/{id}":       func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("thing " + r.PathValue("id"))) },
			"POST /internal/things/{id}/poke": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("poked " + r.PathValue("id"))) },
		},
		Health: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("up")) },
	}.Handler()
	for _, c := range []struct {
		method, path string
		status       int
		body         string // a route's body, or
		code         string // an error body's code
		allow        string
	}{
		{"GET", "/internal/things", 200, "list", "", ""},
		{"GET", "/internal/things/7", 200, "thing 7", "", ""},
		{"HEAD", "/internal/things/7", 200, "", "", ""},
		{"GET", "/health", 200, "up", "", ""},
		{"GET", "/actuator/health", 200, "up", "", ""},
		{"POST", "/internal/things/7/poke", 200, "poked 7", "", ""},
		{"POST", "/internal/things", 405, "", "THING.METHOD_NOT_ALLOWED", "GET, HEAD"},
		{"DELETE", "/internal/things/7", 405, "", "THING.METHOD_NOT_ALLOWED", "GET, HEAD"},
		{"GET", "/internal/things/7/poke", 405, "", "THING.METHOD_NOT_ALLOWED", "POST"},
		{"GET", "/internal/other", 404, "", "THING.NOT_FOUND", ""},
		{"POST", "/health", 405, "", "THING.METHOD_NOT_ALLOWED", "GET, HEAD"},
		{"GET", "/", 404, "", "THING.NOT_FOUND", ""},
	} {
		req := httptest.NewRequest(c.method, c.path, nil)
		req.Header.Set(trace.HTTPHeader, "trace-1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.status || rec.Header().Get("Allow") != c.allow || rec.Header().Get(trace.HTTPHeader) != "trace-1" {
			t.Errorf("%s %s = %d, Allow %q, trace %q; want %d, %q, trace-1",
				c.method, c.path, rec.Code, rec.Header().Get("Allow"), rec.Header().Get(trace.HTTPHeader), c.status, c.allow)
		}
		if c.code == "" {
			if c.method != "HEAD" && rec.Body.String() != c.body {
				t.Errorf("%s %s body %q; want %q", c.method, c.path, rec.Body.String(), c.body)
			}
			continue
		}
		var b apierror.Body
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.ErrorCode != c.code || b.TraceID != "trace-1" {
			t.Errorf("%s %s error body %s; want code %s, trace-1", c.method, c.path, rec.Body.String(), c.code)
		}
	}
}
