package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/tracing"
)

// GET /api/jobs/{id}/trace answers the OpenTelemetry trace ID of the
// job's X-Trace-Id and the spans kept of it: here the api's own, the
// request that submitted it (with its queries) and the relay's.
func TestJobTraceShowsTheSubmission(t *testing.T) {
	b := setup(t, Config{})
	for _, c := range []struct{ sent, want string }{
		{"4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"a-client-trace", tracing.IDOf("a-client-trace").String()},
	} {
		w := b.post(sampleJob, "X-Trace-Id", c.sent)
		a := accepted(t, w)
		if w.Header().Get("X-Trace-Id") != c.sent || a.TraceID != c.sent {
			t.Fatalf("X-Trace-Id %q echoed as %q, traceId %q", c.sent, w.Header().Get("X-Trace-Id"), a.TraceID)
		}
		r := b.do(http.MethodGet, "/api/jobs/"+a.JobID+"/trace", "")
		if r.Code != http.StatusOK {
			t.Fatalf("GET trace = %d %s", r.Code, r.Body)
		}
		var got JobTrace
		if err := json.Unmarshal(r.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.TraceID != c.want {
			t.Errorf("traceId %s; want %s", got.TraceID, c.want)
		}
		names := map[string]bool{}
		for _, sp := range got.Spans {
			names[sp.Name] = true
			if sp.TraceID != c.want || sp.Service != "api" {
				t.Errorf("span %+v", sp)
			}
		}
		if !names["api POST /api/jobs"] || !names["outbox relay job-created"] {
			t.Errorf("spans %v; want the request and the relay", names)
		}
	}
	// A fresh trace ID is 32 hex digits, the trace ID as it is.
	a := accepted(t, b.post(sampleJob))
	if len(a.TraceID) != 32 || strings.Trim(a.TraceID, "0123456789abcdef") != "" || tracing.IDOf(a.TraceID).String() != a.TraceID {
		t.Errorf("a fresh traceId %q is not a W3C trace ID", a.TraceID)
	}
	// An unknown job is a 404.
	if r := b.do(http.MethodGet, "/api/jobs/0193a6a0-0000-7000-8000-0000000000ff/trace", ""); r.Code != http.StatusNotFound {
		t.Errorf("unknown job: %d %s", r.Code, r.Body)
	}
}
