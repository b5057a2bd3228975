package tracing

import (
	"context"
	"errors"
	"testing"
)

// Hops of one job form one trace in the store: the API's span is the root
// with the job's trace ID, a hop from a traceparent is its child, the
// ingest span has the ID JobParent names, and queries outside any hop
// record nothing.
func TestHopsFormOneTrace(t *testing.T) {
	t.Parallel()
	store := NewStore(100)
	api, err := New(t.Context(), "api", Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := New(t.Context(), "scheduler", Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	const job, traceID = "0190c8b4-0000-7000-8000-000000000001", "my-trace"
	actx := WithProvider(context.Background(), api)
	actx, req := StartHop(actx, "api request", traceID, "")
	tp := TraceParentFor(actx, traceID)
	if tp == "" || TraceParentFor(actx, "another trace") != "" {
		t.Fatalf("TraceParentFor = %q (and %q for another trace)", tp, TraceParentFor(actx, "another trace"))
	}
	req.End()

	sctx := WithProvider(context.Background(), sched)
	_, orphan := Start(sctx, "a query outside any hop")
	orphan.End()
	_, ingest := StartIngest(sctx, "scheduler ingest", traceID, job, tp, Job(job, ""))
	End(ingest, nil)
	_, dispatch := StartHop(sctx, "scheduler dispatch", traceID, JobParent(sctx, traceID, job))
	End(dispatch, errors.New("boom"))

	spans := store.Trace(IDOf(traceID))
	if len(spans) != 3 {
		t.Fatalf("%d spans in the trace; want 3: %+v", len(spans), spans)
	}
	r, in, d := spans[0], spans[1], spans[2]
	if r.Service != "api" || r.ParentSpanID != "" || r.TraceID != IDOf(traceID).String() {
		t.Errorf("request span %+v", r)
	}
	if in.Service != "scheduler" || in.ParentSpanID != r.SpanID || in.SpanID != spanIDOf("ingest/"+job).String() || in.Attributes[AttrJobID] != job {
		t.Errorf("ingest span %+v; want the child of %s with span ID %s", in, r.SpanID, spanIDOf("ingest/"+job))
	}
	if d.ParentSpanID != in.SpanID || d.Attributes["error"] != "boom" {
		t.Errorf("dispatch span %+v; want the child of the ingest span, failed", d)
	}
	if store.Len() != 3 {
		t.Errorf("the store holds %d spans; the orphan query must not be one", store.Len())
	}
}

// An unsampled job records nothing anywhere, and hands no traceparent on:
// the later hops, finding none, take the same decision from the trace ID.
func TestUnsampledJobRecordsNothing(t *testing.T) {
	t.Parallel()
	store := NewStore(100)
	p, err := New(t.Context(), "api", Config{Sampler: SamplerParentTraceIDRatio, Ratio: 0, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ctx, sp := StartHop(WithProvider(context.Background(), p), "api request", "t", "")
	if HopTraced(ctx, "t", "") || Traced(ctx) || sp.IsRecording() {
		t.Error("a job sampled out is traced")
	}
	_, child := StartHop(ctx, "child", "t", TraceParent(ctx))
	child.End()
	sp.End()
	if tp := TraceParent(ctx); tp != "" {
		t.Errorf("traceparent %q; want none", tp)
	}
	if store.Len() != 0 {
		t.Errorf("%d spans stored", store.Len())
	}
}

// Past its size the store drops the oldest traces whole.
func TestStoreDropsTheOldestTraces(t *testing.T) {
	t.Parallel()
	store := NewStore(5)
	p, err := New(t.Context(), "api", Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		ctx, root := StartHop(WithProvider(context.Background(), p), "root", id, "")
		_, c := Start(ctx, "child")
		c.End()
		root.End()
	}
	if n := len(store.Trace(IDOf("a"))); n != 0 {
		t.Errorf("trace a has %d spans; want it dropped", n)
	}
	if n := len(store.Trace(IDOf("c"))); n != 2 {
		t.Errorf("trace c has %d spans; want 2", n)
	}
	if store.Len() > 5 {
		t.Errorf("the store holds %d spans; max 5", store.Len())
	}
}

// JobTrace keeps the spans of one job and those that name none.
func TestJobTrace(t *testing.T) {
	t.Parallel()
	spans := []Span{
		{SpanID: "r", Name: "api request"},
		{SpanID: "a1", ParentSpanID: "r", Name: "relay", Attributes: map[string]any{AttrJobID: "A"}},
		{SpanID: "a2", ParentSpanID: "a1", Name: "publish"},
		{SpanID: "b1", ParentSpanID: "r", Name: "relay", Attributes: map[string]any{AttrJobID: "B"}},
		{SpanID: "b2", ParentSpanID: "b1", Name: "publish"},
		{SpanID: "q", ParentSpanID: "r", Name: "INSERT"},
	}
	var got []string
	for _, sp := range JobTrace(spans, "A", 100) {
		got = append(got, sp.SpanID)
	}
	if want := "r a1 a2 q"; joined(got) != want {
		t.Errorf("JobTrace(A) = %s; want %s", joined(got), want)
	}
	if n := len(JobTrace(spans, "A", 2)); n != 2 {
		t.Errorf("JobTrace with max 2 gave %d spans", n)
	}
}

func joined(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out
}

// A nil provider is valid and records nothing.
func TestNilProvider(t *testing.T) {
	t.Parallel()
	var p *Provider
	ctx, sp := StartHop(WithProvider(context.Background(), p), "x", "t", "")
	if sp.IsRecording() || TraceParent(ctx) != "" || p.Store() != nil || p.Flush(ctx) != nil {
		t.Error("a nil provider recorded something")
	}
	if p.TracerProvider() == nil {
		t.Error("no tracer provider")
	}
}

// format writes what the W3C propagator writes.
func TestFormatMatchesThePropagator(t *testing.T) {
	t.Parallel()
	for _, tp := range []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
	} {
		if got := format(parse(tp)); got != tp {
			t.Errorf("format(parse(%s)) = %s", tp, got)
		}
	}
	if format(parse("garbage")) != "" {
		t.Error("an invalid traceparent formats")
	}
}
