package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/testwait"
	"github.com/jobweaver/jobweaver/shared/tracing"
)

// A job submitted with an X-Trace-Id is one trace from the API request
// to the dlq's store: GET /api/jobs/{id}/trace shows the spans of all
// four functions with the trace ID the X-Trace-Id maps to, each hop the
// descendant of the one before, and every record the job caused carries
// a traceparent in that trace.
func TestJobIsOneTraceAcrossTheFourFunctions(t *testing.T) {
	jobIsOneTrace(t, map[string]string{"OTEL_TRACES_SAMPLER_ARG": "1"}, fmt.Sprintf("e2e-trace-%d", time.Now().UnixNano()))
}

// At the default 1 % (the local default), a job the ratio samples in is
// as whole a trace as at 100 %.
func TestSampledJobIsWholeAtTheDefaultRatio(t *testing.T) {
	// The ratio sampler keeps a trace ID whose last 8 bytes are small.
	jobIsOneTrace(t, nil, fmt.Sprintf("%016x%016x", time.Now().UnixNano(), 1))
}

// At the default 1 %, a job the ratio samples out runs as any other, but
// no hop of any function records a span, its records carry its traceId
// and no traceparent, and GET /api/jobs/{id}/trace says it was not
// sampled.
func TestJobSampledOutRecordsNothing(t *testing.T) {
	s := start(t, testConfig(t))
	traceID := fmt.Sprintf("%016x%016x", time.Now().UnixNano(), ^uint64(0))
	id := deadLetteredJob(t, s, traceID)

	headers := jobRecordHeaders(t, s, id)
	for _, topic := range []string{envelope.TopicJobCreated, envelope.TopicRunJob, envelope.TopicJobFailed, envelope.TopicJobDeadLetter} {
		h, ok := headers[topic]
		if !ok {
			t.Errorf("no %s record of job %s", topic, id)
			continue
		}
		if h[tracing.HeaderTraceParent] != "" || h["traceId"] != traceID {
			t.Errorf("%s record of job %s: headers %v; want traceId %s and no traceparent", topic, id, h, traceID)
		}
	}
	var got struct {
		TraceID string         `json:"traceId"`
		Spans   []tracing.Span `json:"spans"`
		Sampled bool           `json:"sampled"`
		Note    string         `json:"note"`
	}
	getJSON(t, s.APIURL+"/api/jobs/"+id+"/trace", &got)
	if got.TraceID != traceID || len(got.Spans) != 0 || got.Sampled || !strings.Contains(got.Note, "not sampled") {
		t.Errorf("GET trace = %+v; want no spans, sampled false and a note", got)
	}
}

// deadLetteredJob submits a job with X-Trace-Id traceID that fails to
// the dlq, and waits until it has failed: its ID.
func deadLetteredJob(t *testing.T, s *Stack, traceID string) string {
	t.Helper()
	code, created := callWith(t, "POST", s.APIURL+"/api/jobs",
		`{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"traced"},{"action":"FAIL","message":"to the dlq"}]},"maxRetryCount":0}`,
		map[string]string{"X-Trace-Id": traceID})
	id, _ := created["jobId"].(string)
	if code != 202 || id == "" || created["traceId"] != traceID {
		t.Fatalf("POST /api/jobs = %d %v; want 202 with traceId %s", code, created, traceID)
	}
	waitStatus(t, s.APIURL, id, "FAILED")
	return id
}

// jobRecordHeaders reads the job's records on the topics it crosses
// until it has one of each: topic -> header -> value.
func jobRecordHeaders(t *testing.T, s *Stack, id string) map[string]map[string]string {
	t.Helper()
	topics := []string{envelope.TopicJobCreated, envelope.TopicRunJob, envelope.TopicJobFailed, envelope.TopicJobDeadLetter}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ConsumeTopics(topics...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	for len(seen) < len(topics) && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if string(r.Key) == id {
				h := map[string]string{}
				for _, kv := range r.Headers {
					h[kv.Key] = string(kv.Value)
				}
				seen[r.Topic] = h
			}
		})
	}
	return seen
}

// jobIsOneTrace submits a job with X-Trace-Id traceID to a stack read
// from env and checks that it is one trace across the four functions.
func jobIsOneTrace(t *testing.T, env map[string]string, traceID string) {
	s := start(t, testConfigWith(t, env))
	want := tracing.IDOf(traceID).String()

	id := deadLetteredJob(t, s, traceID)

	var got struct {
		TraceID string         `json:"traceId"`
		Spans   []tracing.Span `json:"spans"`
	}
	testwait.EventuallyState(t, bound, "the trace reaches the dlq", func() bool {
		got.Spans = nil
		getJSON(t, s.APIURL+"/api/jobs/"+id+"/trace", &got)
		return find(got.Spans, "dlq store") != nil
	}, func() string { return describeSpans(got.Spans) })

	t.Logf("trace %s:\n%s", got.TraceID, describeSpans(got.Spans))
	if got.TraceID != want {
		t.Errorf("traceId = %s; want %s (the OpenTelemetry ID of X-Trace-Id %s)", got.TraceID, want, traceID)
	}
	services := map[string]bool{}
	for _, sp := range got.Spans {
		services[sp.Service] = true
		if sp.TraceID != want {
			t.Errorf("span %s (%s) is in trace %s; want %s", sp.Name, sp.Service, sp.TraceID, want)
		}
		if sp.End.Before(sp.Start) {
			t.Errorf("span %s ends before it starts", sp.Name)
		}
	}
	for _, svc := range []string{"api", "scheduler", "worker", "dlq"} {
		if !services[svc] {
			t.Errorf("no span of the %s function; spans:\n%s", svc, describeSpans(got.Spans))
		}
	}
	// Each hop below the one before (direct children where no record sits
	// between them).
	chain := []struct {
		child, parent string
		direct        bool
	}{
		{"outbox relay job-created", "api ", false},
		{"job-created record", "outbox relay job-created", false},
		{"scheduler ingest", "job-created record", true},
		{"scheduler dispatch", "scheduler ingest", true},
		{"outbox relay run-job", "scheduler dispatch", true},
		{"worker attempt", "outbox relay run-job", false},
		{"worker step LOG", "worker attempt", true},
		{"worker step FAIL", "worker attempt", true},
		{"outbox relay job-failed", "worker attempt", true},
		{"scheduler result", "outbox relay job-failed", false},
		{"outbox relay job-dead-letter", "scheduler result", true},
		{"dlq store", "outbox relay job-dead-letter", false},
	}
	for _, c := range chain {
		child := find(got.Spans, c.child)
		if child == nil {
			t.Errorf("no span %q; spans:\n%s", c.child, describeSpans(got.Spans))
			continue
		}
		if !descends(got.Spans, child, c.parent, c.direct) {
			t.Errorf("span %q is not below %q (direct: %t); spans:\n%s", c.child, c.parent, c.direct, describeSpans(got.Spans))
		}
	}

	// The records carry traceparent in the job's trace, sampled.
	headers := jobRecordHeaders(t, s, id)
	for _, topic := range []string{envelope.TopicJobCreated, envelope.TopicRunJob, envelope.TopicJobFailed, envelope.TopicJobDeadLetter} {
		tp, ok := headers[topic][tracing.HeaderTraceParent]
		if !ok || !strings.HasPrefix(tp, "00-"+want+"-") || !strings.HasSuffix(tp, "-01") || len(tp) != 55 {
			t.Errorf("%s record of job %s: traceparent %q (found: %t); want 00-%s-<span>-01", topic, id, tp, ok, want)
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, b)
	}
}

// find is the first span whose name starts with prefix.
func find(spans []tracing.Span, prefix string) *tracing.Span {
	for i := range spans {
		if strings.HasPrefix(spans[i].Name, prefix) {
			return &spans[i]
		}
	}
	return nil
}

// descends reports whether a span named with prefix is child's parent
// (direct) or ancestor.
func descends(spans []tracing.Span, child *tracing.Span, prefix string, direct bool) bool {
	byID := map[string]*tracing.Span{}
	for i := range spans {
		byID[spans[i].SpanID] = &spans[i]
	}
	for p, hops := byID[child.ParentSpanID], 0; p != nil && hops < 64; p, hops = byID[p.ParentSpanID], hops+1 {
		if strings.HasPrefix(p.Name, prefix) {
			return true
		}
		if direct {
			return false
		}
	}
	return false
}

func describeSpans(spans []tracing.Span) string {
	var b strings.Builder
	for _, sp := range spans {
		fmt.Fprintf(&b, "  %s %s/%s <- %s %q\n", sp.Service, sp.TraceID, sp.SpanID, sp.ParentSpanID, sp.Name)
	}
	return b.String()
}
