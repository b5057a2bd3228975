package tracing

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Attribute keys JobWeaver sets on its spans.
const (
	AttrJobID   = "jobweaver.job.id"
	AttrEventID = "jobweaver.event.id"
	AttrAttempt = "jobweaver.attempt"
	AttrStep    = "jobweaver.step.index"
	AttrAction  = "jobweaver.step.action"
	AttrTopic   = "messaging.destination.name"
)

// HeaderTraceParent is the W3C trace-context header, in Kafka records and
// outbox rows.
const HeaderTraceParent = "traceparent"

type providerKey struct{}

// WithProvider returns ctx carrying p: the spans started under it are
// p's (its service's).
func WithProvider(ctx context.Context, p *Provider) context.Context {
	if p == nil {
		return ctx
	}
	return context.WithValue(ctx, providerKey{}, p)
}

// FromContext is the provider in ctx, or nil.
func FromContext(ctx context.Context) *Provider {
	p, _ := ctx.Value(providerKey{}).(*Provider)
	return p
}

var noopTracer = noop.NewTracerProvider().Tracer("")

func tracerOf(ctx context.Context) trace.Tracer {
	if p := FromContext(ctx); p != nil {
		return p.tracer
	}
	return noopTracer
}

// Start starts a span under ctx's span with the provider in ctx. With no
// span in ctx it is a root that records nothing (see StartHop).
func Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return tracerOf(ctx).Start(ctx, name, opts...)
}

// StartRoot starts a hop's root span in a trace of its own (an
// invocation that serves many jobs), sampled as a root.
func StartRoot(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if FromContext(ctx) == nil {
		return ctx, trace.SpanFromContext(context.Background())
	}
	ctx = trace.ContextWithSpanContext(ctx, trace.SpanContext{})
	ctx = context.WithValue(ctx, rootKey{}, rootIDs{})
	ctx, span := tracerOf(ctx).Start(ctx, name, opts...)
	return context.WithValue(ctx, rootKey{}, nil), span
}

// StartHop starts the span of one hop of the job whose trace ID is
// traceID: the child of traceparent (a record's header) when it is valid,
// else of ctx's span when that is in the job's trace, else a root in the
// job's trace (the sampler decides from the trace ID).
func StartHop(ctx context.Context, name, traceID, traceparent string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return startHop(ctx, name, traceID, traceparent, trace.SpanID{}, opts...)
}

func startHop(ctx context.Context, name, traceID, traceparent string, forced trace.SpanID, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	p := FromContext(ctx)
	if p == nil {
		return ctx, trace.SpanFromContext(context.Background())
	}
	tid := IDOf(traceID)
	parent := ctx
	if sc := parse(traceparent); sc.IsValid() && (!tid.IsValid() || sc.TraceID() == tid) {
		parent = trace.ContextWithRemoteSpanContext(ctx, sc)
	} else if sc := trace.SpanContextFromContext(ctx); !sc.IsValid() || sc.TraceID() != tid {
		parent = trace.ContextWithSpanContext(ctx, trace.SpanContext{})
	}
	parent = context.WithValue(parent, rootKey{}, rootIDs{trace: tid, span: forced})
	ctx, span := p.tracer.Start(parent, name, opts...)
	return context.WithValue(ctx, rootKey{}, nil), span
}

// StartIngest is StartHop for the scheduler's ingest of a job: its span
// ID derives from the job ID (JobParent names it).
func StartIngest(ctx context.Context, name, traceID, jobID, traceparent string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return startHop(ctx, name, traceID, traceparent, spanIDOf("ingest/"+jobID), opts...)
}

// JobParent is the traceparent of a job's ingest span (StartIngest),
// rebuilt from its trace and job IDs: the parent of a hop that reads the
// job from the database. "" without a provider.
func JobParent(ctx context.Context, traceID, jobID string) string {
	p := FromContext(ctx)
	tid := IDOf(traceID)
	if p == nil || !tid.IsValid() {
		return ""
	}
	var flags trace.TraceFlags
	if p.sampled(tid) {
		flags = trace.FlagsSampled
	}
	return format(trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: spanIDOf("ingest/" + jobID), TraceFlags: flags, Remote: true,
	}))
}

// TraceParent is the W3C traceparent of ctx's span, or "".
func TraceParent(ctx context.Context) string {
	return format(trace.SpanContextFromContext(ctx))
}

// TraceParentFor is TraceParent when ctx's span is in the trace of the
// job trace ID traceID, else "".
func TraceParentFor(ctx context.Context, traceID string) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || sc.TraceID() != IDOf(traceID) {
		return ""
	}
	return format(sc)
}

// format is sc's W3C traceparent (version 00), as Propagator writes it,
// without its map.
func format(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	tid, sid := sc.TraceID(), sc.SpanID()
	var b [55]byte
	copy(b[:], "00-")
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	flags := sc.TraceFlags() & trace.FlagsSampled
	hex.Encode(b[53:55], []byte{byte(flags)})
	return string(b[:])
}

func parse(tp string) trace.SpanContext {
	if tp == "" {
		return trace.SpanContext{}
	}
	ctx := Propagator.Extract(context.Background(), propagation.MapCarrier{HeaderTraceParent: tp})
	return trace.SpanContextFromContext(ctx)
}

// End ends span, marking it failed when err is set.
func End(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Job is the attributes naming a job (and event, when set).
func Job(jobID, eventID string) trace.SpanStartOption {
	attrs := make([]attribute.KeyValue, 0, 2)
	if jobID != "" {
		attrs = append(attrs, attribute.String(AttrJobID, jobID))
	}
	if eventID != "" {
		attrs = append(attrs, attribute.String(AttrEventID, eventID))
	}
	return trace.WithAttributes(attrs...)
}

// At starts a span at t.
func At(t time.Time) trace.SpanStartOption { return trace.WithTimestamp(t) }

// b64 decodes a Lambda record's base64 key; "" if it does not decode.
func b64(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return ""
	}
	return string(b)
}
