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

// noSpan is the span of a hop or child that records nothing: the
// OpenTelemetry API's no-op span, shared, so that returning it allocates
// nothing.
var noSpan = trace.SpanFromContext(context.Background())

// Start starts a span under ctx's span with the provider in ctx. With no
// span in ctx it is a root that records nothing (see StartHop). Under a
// span that does not record (a job sampled out) it returns ctx and a
// no-op span at once: the SDK is not called.
func Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	p := FromContext(ctx)
	if p == nil || !p.recordsUnder(trace.SpanContextFromContext(ctx)) {
		return ctx, noSpan
	}
	return p.tracer.Start(ctx, name, opts...)
}

// Traced reports whether Start under ctx records a span: callers that
// build attributes or names for a child span check it first, so that an
// untraced job pays for neither.
func Traced(ctx context.Context) bool {
	p := FromContext(ctx)
	return p != nil && p.recordsUnder(trace.SpanContextFromContext(ctx))
}

// HopTraced reports whether StartHop (or StartIngest) would do anything
// for this hop of the job traceID, whose incoming traceparent is
// traceparent: false without a provider and for a job the root decision
// samples out (unless a sampled traceparent of the job's trace overrides
// it, with the parent-based samplers). Callers check it before building
// the hop's options; StartHop checks it again itself. It allocates
// nothing for a 32-hex or UUID trace ID and a version-00 traceparent.
func HopTraced(ctx context.Context, traceID, traceparent string) bool {
	p := FromContext(ctx)
	return p != nil && !p.skipsHop(ctx, IDOf(traceID), traceparent)
}

// skipsHop reports whether a hop of the job tid records nothing and hands
// nothing on: the root decision for tid is "out" and no sampled parent in
// the job's trace (traceparent, else ctx's span) overrides it. The
// decision is the one the sampler would take, taken without the SDK;
// what it cannot tell alone (no valid trace ID: a random root) goes the
// SDK's way. A job the root decision samples in whose parent says "out"
// (a client's unsampled traceparent) goes the SDK's way too, so that its
// "-00" traceparent travels on and the later hops agree.
func (p *Provider) skipsHop(ctx context.Context, tid trace.TraceID, traceparent string) bool {
	if !tid.IsValid() || p.sampled(tid) {
		return false
	}
	if !p.parentBased {
		return true // the trace ID decides every span
	}
	if sc := parse(traceparent); sc.IsValid() && sc.TraceID() == tid {
		return !sc.IsSampled()
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && sc.TraceID() == tid {
		return !sc.IsSampled()
	}
	return true
}

// recordsUnder reports whether a child of sc records: what hopSampler
// decides for a span that is not a hop's root.
func (p *Provider) recordsUnder(sc trace.SpanContext) bool {
	if !sc.IsValid() {
		return false // a root that is not a hop's: dropped
	}
	if p.parentBased {
		return sc.IsSampled()
	}
	return p.sampled(sc.TraceID())
}

// unsampled is ctx for the rest of a hop that records nothing: without a
// span, so that nothing below it (a query, a produce, a step) records
// under a span of another trace (an invocation's), and TraceParent is "".
func unsampled(ctx context.Context) context.Context {
	if trace.SpanContextFromContext(ctx).IsValid() {
		return trace.ContextWithSpanContext(ctx, trace.SpanContext{})
	}
	return ctx
}

// StartRoot starts a hop's root span in a trace of its own (an
// invocation that serves many jobs), sampled as a root.
func StartRoot(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	p := FromContext(ctx)
	if p == nil {
		return ctx, noSpan
	}
	tid, ok := p.rootTrace()
	if !ok {
		return unsampled(ctx), noSpan
	}
	return p.startRoot(ctx, tid, name, opts...)
}

// rootTrace draws the trace ID of a root span of its own and takes its
// root decision, before the SDK is called: a root sampled out costs
// nothing (and its caller builds no options for it).
func (p *Provider) rootTrace() (trace.TraceID, bool) {
	tid := randomTraceID()
	return tid, p.sampled(tid)
}

// startRoot starts a root span in the trace tid (rootTrace's).
func (p *Provider) startRoot(ctx context.Context, tid trace.TraceID, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	ctx = trace.ContextWithSpanContext(ctx, trace.SpanContext{})
	ctx = context.WithValue(ctx, rootKey{}, rootIDs{trace: tid})
	ctx, span := p.tracer.Start(ctx, name, opts...)
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
		return ctx, noSpan
	}
	tid := IDOf(traceID)
	if p.skipsHop(ctx, tid, traceparent) {
		return unsampled(ctx), noSpan
	}
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
	if !p.sampled(tid) {
		// The ingest span of a job sampled out did not record: a hop
		// below it records nothing either, and needs no parent.
		return ""
	}
	return format(trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: spanIDOf("ingest/" + jobID), TraceFlags: trace.FlagsSampled, Remote: true,
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
	if sc, ok := parse00(tp); ok {
		return sc
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

// parse00 reads a version-00 traceparent in its canonical form (lower-case
// hex, as format and every W3C propagator write it) without the
// propagator's map; ok is false for anything else, which parse hands to
// the propagator.
func parse00(tp string) (trace.SpanContext, bool) {
	if len(tp) != 55 || tp[0] != '0' || tp[1] != '0' || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return trace.SpanContext{}, false
	}
	var tid trace.TraceID
	var sid trace.SpanID
	var flags [1]byte
	if !lowerHex(tp[3:35]) || !lowerHex(tp[36:52]) || !lowerHex(tp[53:55]) {
		return trace.SpanContext{}, false
	}
	if _, err := hex.Decode(tid[:], []byte(tp[3:35])); err != nil {
		return trace.SpanContext{}, false
	}
	if _, err := hex.Decode(sid[:], []byte(tp[36:52])); err != nil {
		return trace.SpanContext{}, false
	}
	if _, err := hex.Decode(flags[:], []byte(tp[53:55])); err != nil {
		return trace.SpanContext{}, false
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(flags[0]), Remote: true,
	})
	return sc, sc.IsValid()
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
