package scheduler

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/tracing"
)

// batchSpans are the spans of the jobs one transaction handles: an
// ingest, a result or a dispatch span each (shared/tracing). They start
// before the transaction and end once it is over.
type batchSpans struct {
	spans []oteltrace.Span
	tp    map[string]string // job ID -> traceparent of its span
}

// startConsumeSpans starts an ingest span for each job-created record
// (its span ID derives from the job ID: the job's dispatches hang below
// it) and a result span for each job-completed or job-failed record.
func startConsumeSpans(ctx context.Context, created, results []inbound) *batchSpans {
	b := &batchSpans{}
	if tracing.FromContext(ctx) == nil {
		return b
	}
	b.tp = make(map[string]string, len(results))
	for _, in := range created {
		if !tracing.HopTraced(ctx, in.Env.TraceID, in.Env.TraceParent) {
			continue // sampled out: no span
		}
		_, sp := tracing.StartIngest(ctx, "scheduler ingest", in.Env.TraceID, in.Env.JobID, in.Env.TraceParent,
			tracing.Job(in.Env.JobID, in.Env.EventID))
		b.spans = append(b.spans, sp)
	}
	for _, in := range results {
		if !tracing.HopTraced(ctx, in.Env.TraceID, in.Env.TraceParent) {
			continue // sampled out: no span, and no traceparent to stamp
		}
		sctx, sp := tracing.StartHop(ctx, "scheduler result", in.Env.TraceID, in.Env.TraceParent,
			tracing.Job(in.Env.JobID, in.Env.EventID), oteltrace.WithAttributes(
				attribute.Int(tracing.AttrAttempt, in.Result.Attempt), attribute.String("jobweaver.result", in.Env.Type)))
		b.spans = append(b.spans, sp)
		b.tp[in.Env.JobID] = tracing.TraceParent(sctx)
	}
	return b
}

// startDispatchSpan starts the dispatch span of a claimed job, below its
// ingest span, and returns the traceparent its run-job event carries.
func (b *batchSpans) startDispatchSpan(ctx context.Context, c claimedJob) string {
	parent := tracing.JobParent(ctx, c.TraceID, c.ID)
	if parent == "" {
		return "" // tracing off, or the job sampled out: no span
	}
	sctx, sp := tracing.StartHop(ctx, "scheduler dispatch", c.TraceID, parent,
		tracing.Job(c.ID, ""), oteltrace.WithAttributes(attribute.Int(tracing.AttrAttempt, c.Attempts)))
	b.spans = append(b.spans, sp)
	return tracing.TraceParent(sctx)
}

// stamp gives the events the consumed results cause (dead letters) the
// traceparent of their job's result span.
func (b *batchSpans) stamp(envs []envelope.Envelope) {
	for i := range envs {
		if tp, ok := b.tp[envs[i].JobID]; ok && envs[i].TraceParent == "" {
			envs[i].TraceParent = tp
		}
	}
}

// end ends the spans, failed if err is set.
func (b *batchSpans) end(err error) {
	for _, sp := range b.spans {
		tracing.End(sp, err)
	}
}
