package tracing

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/jobweaver/jobweaver/shared/kafka"
	jwtrace "github.com/jobweaver/jobweaver/shared/trace"
)

// setHeader sets a Lambda record's header, replacing an existing one.
func setHeader(r *events.KafkaRecord, name, value string) {
	for _, h := range r.Headers {
		if _, ok := h[name]; ok {
			h[name] = events.JSONNumberBytes(value)
			return
		}
	}
	r.Headers = append(r.Headers, map[string]events.JSONNumberBytes{name: events.JSONNumberBytes(value)})
}

// SetRecordHeader sets a kgo record's header, replacing an existing one.
func SetRecordHeader(r *kgo.Record, name, value string) {
	for i, h := range r.Headers {
		if h.Key == name {
			r.Headers[i].Value = []byte(value)
			return
		}
	}
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: name, Value: []byte(value)})
}

// RecordHeader returns a kgo record's header, or "".
func RecordHeader(r *kgo.Record, name string) string {
	for _, h := range r.Headers {
		if h.Key == name {
			return string(h.Value)
		}
	}
	return ""
}

// Kafka header names the platform sets.
const (
	headerTraceID = jwtrace.KafkaTraceHeader
	headerEventID = jwtrace.KafkaEventHeader
)

// Invocation starts the spans of an event-source-mapping invocation of
// function: one for the invocation (a root of its own, linked from each
// record's span) and one per record, the child of the record's
// traceparent (or a root in its job's trace), which then replaces the
// record's traceparent in ev so that the handler's spans hang below it.
// end ends them all. Without a provider in ctx it does nothing.
func Invocation(ctx context.Context, function string, ev *events.KafkaEvent) (context.Context, func(error)) {
	p := FromContext(ctx)
	if p == nil {
		return ctx, func(error) {}
	}
	// The invocation's own span, sampled as a root of its own trace:
	// options and link are built only when it records.
	inv := noSpan
	var opts []trace.SpanStartOption
	if tid, ok := p.rootTrace(); ok {
		n := 0
		for _, rs := range ev.Records {
			n += len(rs)
		}
		ctx, inv = p.startRoot(ctx, tid, function+" invocation", trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.Int("messaging.batch.message_count", n)))
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: inv.SpanContext()}))
	} else {
		ctx = unsampled(ctx)
	}
	var spans []trace.Span
	for k, rs := range ev.Records {
		for i := range rs {
			r := &ev.Records[k][i]
			traceID, tp := kafka.Header(*r, headerTraceID), kafka.Header(*r, HeaderTraceParent)
			if !HopTraced(ctx, traceID, tp) {
				continue // a job sampled out: no span, its headers as they are
			}
			// opts is full (len = cap): each append makes its own.
			_, sp := StartHop(ctx, r.Topic+" record", traceID, tp,
				append(opts, trace.WithSpanKind(trace.SpanKindConsumer), Job(b64(r.Key), kafka.Header(*r, headerEventID)),
					trace.WithAttributes(attribute.String(AttrTopic, r.Topic),
						attribute.Int64("messaging.kafka.destination.partition", r.Partition),
						attribute.Int64("messaging.kafka.message.offset", r.Offset)))...)
			if tp := format(sp.SpanContext()); tp != "" {
				setHeader(r, HeaderTraceParent, tp)
			}
			spans = append(spans, sp)
		}
	}
	return ctx, func(err error) {
		for _, sp := range spans {
			End(sp, err)
		}
		End(inv, err)
	}
}

// Wrap is a function's entry point with tracing: it puts p in the
// invocation's context and, when spans go to OTLP, flushes them before
// the invocation returns (Lambda may freeze the environment after). It is
// the thin stand-in for otellambda, which the module proxy does not
// serve.
func Wrap(p *Provider, h func(context.Context, json.RawMessage) (any, error)) func(context.Context, json.RawMessage) (any, error) {
	if p == nil {
		return h
	}
	return func(ctx context.Context, payload json.RawMessage) (any, error) {
		out, err := h(WithProvider(ctx, p), payload)
		_ = p.Flush(context.WithoutCancel(ctx)) // lost spans must not fail the invocation
		return out, err
	}
}

// Relay starts the outbox relay's span for each record it is about to
// produce: the child of the record's traceparent (the span that wrote
// the row), or a root in its job's trace. The span goes into the record's
// context, where kotel's publish span finds it, and its traceparent into
// the record's headers. end takes the records' produce errors, in order.
func Relay(ctx context.Context, recs []*kgo.Record) (end func(errs []error)) {
	if FromContext(ctx) == nil || len(recs) == 0 {
		return func([]error) {}
	}
	spans := make([]trace.Span, len(recs))
	var skipped context.Context
	for i, r := range recs {
		traceID, tp := RecordHeader(r, headerTraceID), RecordHeader(r, HeaderTraceParent)
		if !HopTraced(ctx, traceID, tp) {
			// A job sampled out: no span, and a context without one, so
			// that kotel's hook passes the record by (Producer).
			if skipped == nil {
				skipped = unsampled(ctx)
			}
			r.Context = skipped
			spans[i] = noSpan
			continue
		}
		rctx, sp := StartHop(ctx, "outbox relay "+r.Topic, traceID, tp,
			trace.WithSpanKind(trace.SpanKindProducer), Job(string(r.Key), RecordHeader(r, headerEventID)),
			trace.WithAttributes(attribute.String(AttrTopic, r.Topic)))
		if tp := format(sp.SpanContext()); tp != "" {
			SetRecordHeader(r, HeaderTraceParent, tp)
		}
		r.Context = rctx
		spans[i] = sp
	}
	return func(errs []error) {
		for i, sp := range spans {
			var err error
			if i < len(errs) {
				err = errs[i]
			}
			End(sp, err)
		}
	}
}

// RecordTraceParent is a Lambda record's traceparent header, or "".
func RecordTraceParent(r events.KafkaRecord) string { return kafka.Header(r, HeaderTraceParent) }
