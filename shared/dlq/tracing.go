package dlq

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/jobweaver/jobweaver/shared/tracing"
)

// startStoreSpans starts a "dlq store" span for each dead letter of a
// batch, below its record's span; end ends them once the batch is
// stored (or not).
func startStoreSpans(ctx context.Context, recs []events.KafkaRecord, rows []row) (end func(error)) {
	if tracing.FromContext(ctx) == nil || len(recs) != len(rows) {
		return func(error) {}
	}
	spans := make([]oteltrace.Span, len(rows))
	for i, r := range rows {
		spans[i] = oteltrace.SpanFromContext(context.Background())
		if !tracing.HopTraced(ctx, r.traceID, tracing.RecordTraceParent(recs[i])) {
			continue // sampled out
		}
		_, spans[i] = tracing.StartHop(ctx, "dlq store", r.traceID, tracing.RecordTraceParent(recs[i]), tracing.Job(r.jobID, r.eventID))
	}
	return func(err error) {
		for _, sp := range spans {
			tracing.End(sp, err)
		}
	}
}
