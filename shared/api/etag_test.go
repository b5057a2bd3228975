package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jobweaver/jobweaver/shared/internalapi"
)

func TestETagMatches(t *testing.T) {
	tag := `W/"abc"`
	for _, tt := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{`W/"abc"`, true},
		{`"abc"`, true}, // weak comparison
		{`W/"abd"`, false},
		{`W/"x", W/"abc"`, true},
		{`W/"x",W/"y"`, false},
		{`*`, true},
		{`abc`, false},
	} {
		if got := etagMatches(tt.header, tag); got != tt.want {
			t.Errorf("etagMatches(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestWithETag(t *testing.T) {
	body := `{"n":1}`
	status := http.StatusOK
	h := withETag(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	get := func(inm string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/api/x", nil)
		if inm != "" {
			r.Header.Set("If-None-Match", inm)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	first := get("")
	tag := first.Header().Get("ETag")
	if first.Code != http.StatusOK || first.Body.String() != body || tag != weakETag([]byte(body)) ||
		first.Header().Get("Cache-Control") != "no-cache" || first.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("first = %d %q %v", first.Code, first.Body, first.Header())
	}
	if w := get(tag); w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != tag {
		t.Fatalf("matching If-None-Match = %d %q %v", w.Code, w.Body, w.Header())
	}
	body = `{"n":2}`
	w := get(tag)
	if w.Code != http.StatusOK || w.Body.String() != body || w.Header().Get("ETag") == tag {
		t.Fatalf("changed body = %d %q %v", w.Code, w.Body, w.Header())
	}
	// Errors pass through, without an ETag.
	status = http.StatusNotFound
	if w := get(`*`); w.Code != http.StatusNotFound || w.Body.String() != body || w.Header().Get("ETag") != "" {
		t.Fatalf("404 = %d %q %v", w.Code, w.Body, w.Header())
	}
}

// Every GET under /api has an ETag and answers a matching If-None-Match
// with 304; other methods and routes do not.
func TestETagOnEveryGet(t *testing.T) {
	b := setup(t, Config{})
	a := accepted(t, b.post(sampleJob))
	if tag := b.post(sampleJob).Header().Get("ETag"); tag != "" {
		t.Fatalf("POST has an ETag %q", tag)
	}
	b.sched.on("GET /internal/jobs/{id}/status", http.StatusOK, schedulerStatus(a.JobID, internalapi.StatusRunning, 1))
	b.sched.on("GET /internal/jobs", http.StatusOK, map[string]any{"content": []any{}, "page": 0, "size": 20, "totalElements": 0, "totalPages": 0})
	b.sched.on("GET /internal/jobs/{id}/history", http.StatusNotFound, `{}`)
	b.worker.on("GET /internal/executions/{jobId}", http.StatusNotFound, `{}`)
	b.dlq.on("GET /internal/dlq", http.StatusOK, map[string]any{"content": []any{}, "page": 0, "size": 20, "totalElements": 0, "totalPages": 0})
	const opID = "0193a6a0-0000-7000-8000-0000000000aa"
	b.dlq.on("GET /internal/dlq/operations/{id}", http.StatusOK, map[string]any{"operationId": opID, "kind": "DLQ_DISMISS",
		"status": "COMPLETED", "total": 1, "done": 1, "failed": 0, "startedAt": "2026-12-04T00:00:00Z", "finishedAt": "2026-12-04T00:00:01Z"})
	svc := &Service{}
	for _, rt := range svc.routes() {
		// /api/system's body holds its generatedAt, so it never repeats:
		// it has an ETag, but no poll of it is answered 304.
		if rt.method != http.MethodGet || rt.path == "/api/dlq/{id}" || rt.path == "/api/system" {
			continue
		}
		path := rt.path
		if path == "/api/operations/{id}" {
			path = "/api/operations/" + opID
		}
		if path == "/api/jobs/{id}" || path == "/api/jobs/{id}/executions" || path == "/api/jobs/{id}/history" || path == "/api/jobs/{id}/items" || path == "/api/jobs/{id}/trace" {
			path = "/api/jobs/" + a.JobID + path[len("/api/jobs/{id}"):]
		}
		if path == "/api/operations/{id}" {
			path = "/api/operations/" + opID
		}
		w := b.do(http.MethodGet, path, "")
		tag := w.Header().Get("ETag")
		if path[:5] != "/api/" {
			if tag != "" {
				t.Errorf("%s has an ETag", path)
			}
			continue
		}
		if w.Code != http.StatusOK || tag == "" {
			t.Errorf("GET %s = %d, ETag %q", path, w.Code, tag)
			continue
		}
		if again := b.do(http.MethodGet, path, "", "If-None-Match", tag); again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("GET %s with If-None-Match = %d %q", path, again.Code, again.Body)
		}
	}
	// An error has none.
	w := b.do(http.MethodGet, "/api/jobs/nope", "")
	if w.Code != http.StatusBadRequest || w.Header().Get("ETag") != "" {
		t.Fatalf("error = %d, ETag %q", w.Code, w.Header().Get("ETag"))
	}
}
