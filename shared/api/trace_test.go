package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/tracing"
	"github.com/jobweaver/jobweaver/shared/wiring"
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

// For a job sampled out (at the default 1 %) GET /api/jobs/{id}/trace
// says so: no spans, sampled false and a note naming the sampling; with
// tracing off, a note saying that; a sampled job still has its spans.
func TestJobTraceOfAJobSampledOut(t *testing.T) {
	b := setup(t, Config{})
	const in, out = "00000000000000000000000000000001", "0000000000000000ffffffffffffffff"
	for _, c := range []struct {
		name    string
		cfg     tracing.Config
		off     bool
		traceID string
		sampled bool
		spans   bool
		inNote  string
	}{
		{name: "sampled out", cfg: tracing.Config{Sampler: tracing.DefaultSampler, Ratio: tracing.DefaultRatio, StoreSpans: 100}, traceID: out, inNote: "not sampled"},
		{name: "sampled in", cfg: tracing.Config{Sampler: tracing.DefaultSampler, Ratio: tracing.DefaultRatio, StoreSpans: 100}, traceID: in, sampled: true, spans: true},
		{name: "tracing off", off: true, traceID: in, inNote: "tracing is off"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var tp *tracing.Provider
			if !c.off {
				var err error
				if tp, err = tracing.New(t.Context(), "api", c.cfg); err != nil {
					t.Fatal(err)
				}
			}
			svc, err := New(b.cfg, &wiring.Deps{Pool: b.pool, Producer: b.relay.Producer, Relay: b.relay, Log: logging.New("api", b.logs), Tracing: tp}, b.local)
			if err != nil {
				t.Fatal(err)
			}
			w := serve(svc.HTTPHandler(), http.MethodPost, "/api/jobs", sampleJob, "Content-Type", "application/json", "X-Trace-Id", c.traceID)
			a := accepted(t, w)
			r := serve(svc.HTTPHandler(), http.MethodGet, "/api/jobs/"+a.JobID+"/trace", "")
			if r.Code != http.StatusOK {
				t.Fatalf("GET trace = %d %s", r.Code, r.Body)
			}
			var got JobTrace
			if err := json.Unmarshal(r.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.TraceID != c.traceID || got.Sampled != c.sampled || (len(got.Spans) > 0) != c.spans || got.Spans == nil {
				t.Errorf("got %s; want traceId %s, sampled %t, spans %t", r.Body, c.traceID, c.sampled, c.spans)
			}
			if !strings.Contains(got.Note, c.inNote) || (c.inNote == "" && got.Note != "") {
				t.Errorf("note %q; want one containing %q", got.Note, c.inNote)
			}
		})
	}
}
