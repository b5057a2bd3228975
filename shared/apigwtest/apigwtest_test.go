package apigwtest_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/jobweaver/jobweaver/shared/apigw"
	"github.com/jobweaver/jobweaver/shared/apigwtest"
)

// TestEventIsTheRequest checks that apigw reads back the request an event
// was made for.
func TestEventIsTheRequest(t *testing.T) {
	t.Parallel()
	cases := []struct {
		method, target, body   string
		path, query, mediaType string
	}{
		{http.MethodGet, "/internal/dlq?size=2&page=1", "", "/internal/dlq", "size=2&page=1", ""},
		{http.MethodPost, "/api/jobs", `{"jobType":"X"}`, "/api/jobs", "", "application/json"},
	}
	for _, c := range cases {
		req, err := apigw.ToRequest(context.Background(), apigwtest.Event(c.method, c.target, c.body))
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.target, err)
		}
		body, _ := io.ReadAll(req.Body)
		if req.Method != c.method || req.URL.Path != c.path || req.URL.RawQuery != c.query ||
			string(body) != c.body || req.Header.Get("Content-Type") != c.mediaType {
			t.Errorf("%s %s %q became %s %s?%s %q (%q)", c.method, c.target, c.body,
				req.Method, req.URL.Path, req.URL.RawQuery, body, req.Header.Get("Content-Type"))
		}
	}
	if p := apigwtest.Payload(t, http.MethodGet, "/health", ""); len(p) == 0 {
		t.Error("empty payload")
	}
}
