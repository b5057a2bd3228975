package tracing

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Trace IDs on either side of the default 1 % ratio: TraceIDRatioBased
// compares their last 8 bytes with the ratio.
const (
	sampledTrace   = "00000000000000000000000000000001"
	unsampledTrace = "0000000000000000ffffffffffffffff"
)

// benchProvider is a provider at the default ratio (nil: tracing off).
func benchProvider(b *testing.B, on bool) *Provider {
	b.Helper()
	if !on {
		return nil
	}
	p, err := New(b.Context(), "bench", Config{Sampler: DefaultSampler, Ratio: DefaultRatio, Store: NewStore(1000)})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// oneJob is what one job's hops cost the tracing code in one function:
// the hop's span and the traceparent it hands on, two queries through
// the pgx tracer (and the wait for their connection), the outbox relay's
// span and kotel's produce hooks for its record, and an event-source
// mapping's span for the record the next function reads.
func oneJob(ctx context.Context, traceID string, qt *sampledQueries, hooks []kgo.Hook) {
	hctx, sp := StartHop(ctx, "hop", traceID, "", Job("0190c8b4-0000-7000-8000-000000000001", "e"))
	tp := TraceParentFor(hctx, traceID)
	if qt != nil {
		for range 2 {
			actx := qt.TraceAcquireStart(hctx, nil, pgxpool.TraceAcquireStartData{})
			qt.TraceAcquireEnd(actx, nil, pgxpool.TraceAcquireEndData{})
			qctx := qt.TraceQueryStart(hctx, nil, pgx.TraceQueryStartData{SQL: "UPDATE jobs SET status = $1 WHERE id = $2"})
			qt.TraceQueryEnd(qctx, nil, pgx.TraceQueryEndData{})
		}
	}
	End(sp, nil)

	rec := &kgo.Record{Topic: "run-job", Key: []byte("0190c8b4-0000-7000-8000-000000000001"), Headers: []kgo.RecordHeader{
		{Key: headerTraceID, Value: []byte(traceID)}, {Key: headerEventID, Value: []byte("e")}}}
	if tp != "" {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: HeaderTraceParent, Value: []byte(tp)})
	}
	end := Relay(ctx, []*kgo.Record{rec})
	for _, h := range hooks {
		if hb, ok := h.(kgo.HookProduceRecordBuffered); ok {
			hb.OnProduceRecordBuffered(rec)
		}
	}
	for _, h := range hooks {
		if hu, ok := h.(kgo.HookProduceRecordUnbuffered); ok {
			hu.OnProduceRecordUnbuffered(rec, nil)
		}
	}
	end(nil)

	lr := events.KafkaRecord{Topic: rec.Topic, Key: "MDE5MGM4YjQtMDAwMC03MDAwLTgwMDAtMDAwMDAwMDAwMDAx"}
	for _, h := range rec.Headers {
		lr.Headers = append(lr.Headers, map[string]events.JSONNumberBytes{h.Key: events.JSONNumberBytes(h.Value)})
	}
	ev := &events.KafkaEvent{Records: map[string][]events.KafkaRecord{"run-job-0": {lr}}}
	_, iend := Invocation(ctx, "worker", ev)
	iend(nil)
}

// BenchmarkJobHops is the tracing code's cost per job and function
// (oneJob): off (no provider), and on at the default 1 % for a job the
// ratio samples out and for one it samples.
func BenchmarkJobHops(b *testing.B) {
	for _, c := range []struct {
		name    string
		on      bool
		traceID string
	}{
		{"off", false, unsampledTrace},
		{"on-unsampled", true, unsampledTrace},
		{"on-sampled", true, sampledTrace},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := benchProvider(b, c.on)
			ctx := WithProvider(context.Background(), p)
			var qt *sampledQueries
			var hooks []kgo.Hook
			if p != nil {
				qt = queryTracer(p)
				hooks = produceHooks(p)
			}
			b.ReportAllocs()
			for b.Loop() {
				oneJob(ctx, c.traceID, qt, hooks)
			}
		})
	}
}

// spanNames are the names of the spans the store holds of trace.
func spanNames(store *Store, traceID string) map[string]Span {
	out := map[string]Span{}
	for _, sp := range store.Trace(IDOf(traceID)) {
		out[sp.Name] = sp
	}
	return out
}

// At the default 1 %, a job sampled out records nothing at any hop (its
// queries and produces do not reach otelpgx or kotel) and writes no
// traceparent into its records, even where its hops run under a sampled
// span of another trace (an invocation's); a sampled job still has every
// hop's span, each the child of the one before.
func TestDefaultRatioTracesOnlySampledJobs(t *testing.T) {
	t.Parallel()
	store := NewStore(1000)
	p, err := New(t.Context(), "worker", Config{Sampler: DefaultSampler, Ratio: DefaultRatio, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	// Under a sampled span of another trace, as a hop runs inside a
	// sampled invocation.
	other := trace.NewSpanContext(trace.SpanContextConfig{TraceID: IDOf("0000000000000000000000000000abcd"),
		SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(WithProvider(context.Background(), p), other)
	if !p.Samples(sampledTrace) || p.Samples(unsampledTrace) {
		t.Fatalf("the test's trace IDs are not on either side of %g", DefaultRatio)
	}

	qt, hooks := queryTracer(p), produceHooks(p)
	for range 3 {
		oneJob(ctx, unsampledTrace, qt, hooks)
	}
	hctx, sp := StartHop(ctx, "hop", unsampledTrace, "")
	if sp.IsRecording() || TraceParentFor(hctx, unsampledTrace) != "" || TraceParent(hctx) != "" || Traced(hctx) {
		t.Errorf("a sampled-out hop records or hands a traceparent on (%q)", TraceParent(hctx))
	}
	rec := &kgo.Record{Topic: "run-job", Headers: []kgo.RecordHeader{{Key: headerTraceID, Value: []byte(unsampledTrace)}}}
	end := Relay(ctx, []*kgo.Record{rec})
	for _, h := range hooks {
		h.(kgo.HookProduceRecordBuffered).OnProduceRecordBuffered(rec)
	}
	end(nil)
	if tp := RecordHeader(rec, HeaderTraceParent); tp != "" {
		t.Errorf("a sampled-out job's record got traceparent %q", tp)
	}
	for _, s := range store.Trace(other.TraceID()) {
		t.Errorf("span %q of a sampled-out job landed in the surrounding trace", s.Name)
	}
	if n := len(store.Trace(IDOf(unsampledTrace))); n != 0 {
		t.Errorf("a sampled-out job has %d spans", n)
	}

	oneJob(ctx, sampledTrace, qt, hooks)
	spans := spanNames(store, sampledTrace)
	for _, name := range []string{"hop", "pool.acquire", "UPDATE", "outbox relay run-job", "run-job publish", "run-job record"} {
		if _, ok := spans[name]; !ok {
			t.Errorf("the sampled job has no %q span; it has %v", name, spans)
		}
	}
	for child, parent := range map[string]string{"UPDATE": "hop", "outbox relay run-job": "hop", "run-job publish": "outbox relay run-job", "run-job record": "run-job publish"} {
		if spans[child].ParentSpanID != spans[parent].SpanID {
			t.Errorf("%q is the child of %s; want %q's %s", child, spans[child].ParentSpanID, parent, spans[parent].SpanID)
		}
	}
}

// A job the ratio samples in whose client sent an unsampled traceparent
// records nothing, but hands a "-00" traceparent on, so that the later
// hops do not take the trace ID's "in" for theirs.
func TestAnUnsampledParentTravels(t *testing.T) {
	t.Parallel()
	store := NewStore(100)
	p, err := New(t.Context(), "api", Config{Sampler: DefaultSampler, Ratio: DefaultRatio, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithProvider(context.Background(), p)
	parent := "00-" + sampledTrace + "-00f067aa0ba902b7-00"
	hctx, sp := StartHop(ctx, "api request", sampledTrace, parent)
	sp.End()
	if tp := TraceParentFor(hctx, sampledTrace); len(tp) != 55 || tp[53:] != "00" {
		t.Errorf("traceparent %q; want one in the trace with flags 00", tp)
	}
	if HopTraced(ctx, sampledTrace, TraceParentFor(hctx, sampledTrace)) {
		// HopTraced is true (the SDK's way) but the hop records nothing.
		if _, next := StartHop(ctx, "next", sampledTrace, TraceParentFor(hctx, sampledTrace)); next.IsRecording() {
			t.Error("the next hop records below an unsampled parent")
		}
	}
	// And the reverse: a sampled parent traces a job the ratio samples out.
	_, in := StartHop(ctx, "api request", unsampledTrace, "00-"+unsampledTrace+"-00f067aa0ba902b7-01")
	if !in.IsRecording() {
		t.Error("a sampled traceparent did not trace the job")
	}
	in.End()
	if store.Len() != 1 {
		t.Errorf("%d spans stored; want the one below the sampled parent", store.Len())
	}
}

// parse00 reads what the W3C propagator reads, and leaves the rest to it.
func TestParse00MatchesThePropagator(t *testing.T) {
	t.Parallel()
	for _, tp := range []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
		"garbage", "",
	} {
		want := trace.SpanContextFromContext(Propagator.Extract(context.Background(), propagation.MapCarrier{HeaderTraceParent: tp}))
		if got := parse(tp); !got.Equal(want) {
			t.Errorf("parse(%q) = %v; the propagator reads %v", tp, got, want)
		}
	}
}

// The untraced path allocates nothing per hop: the decision, the hop's
// span and ctx, a child's, a query's hooks and a produce's.
func TestUntracedHopAllocatesNothing(t *testing.T) {
	p, err := New(t.Context(), "worker", Config{Sampler: DefaultSampler, Ratio: DefaultRatio, StoreSpans: 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithProvider(context.Background(), p)
	qt, hooks := queryTracer(p), produceHooks(p)
	rec := &kgo.Record{Topic: "run-job", Context: ctx}
	tp := "00-" + unsampledTrace + "-00f067aa0ba902b7-00"
	n := testing.AllocsPerRun(100, func() {
		if HopTraced(ctx, unsampledTrace, tp) {
			t.Fatal("traced")
		}
		hctx, sp := StartHop(ctx, "hop", unsampledTrace, tp)
		cctx, c := Start(hctx, "child")
		qctx := qt.TraceQueryStart(cctx, nil, pgx.TraceQueryStartData{SQL: "SELECT 1"})
		qt.TraceQueryEnd(qctx, nil, pgx.TraceQueryEndData{})
		for _, h := range hooks {
			h.(kgo.HookProduceRecordBuffered).OnProduceRecordBuffered(rec)
			h.(kgo.HookProduceRecordUnbuffered).OnProduceRecordUnbuffered(rec, nil)
		}
		_ = JobParent(hctx, unsampledTrace, "job")
		c.End()
		sp.End()
	})
	if n != 0 {
		t.Errorf("%g allocations per untraced hop; want 0", n)
	}
}
