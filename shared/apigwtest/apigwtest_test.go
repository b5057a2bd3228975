package apigwtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
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

// TestCall checks that Call hands the handler the event and returns its
// response's status and body.
func TestCall(t *testing.T) {
	t.Parallel()
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI())
	})
	handle := func(ctx context.Context, payload json.RawMessage) (any, error) {
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		return apigw.Serve(ctx, echo, ev)
	}
	code, body := apigwtest.Call(context.Background(), t, handle, http.MethodGet, "/internal/dlq?page=2", "")
	if code != http.StatusTeapot || string(body) != "GET /internal/dlq?page=2" {
		t.Errorf("Call = %d %q", code, body)
	}
}
