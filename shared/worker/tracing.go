package worker

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/jobweaver/jobweaver/shared/step"
	"github.com/jobweaver/jobweaver/shared/tracing"
)

// startAttemptSpan starts the span of t's attempt, below its run-job
// record's span, and keeps its traceparent for the result event. end
// notes the attempt's outcome and ends it.
func startAttemptSpan(ctx context.Context, t *task) (context.Context, func(outcome)) {
	tp := tracing.RecordTraceParent(t.rec)
	if !tracing.HopTraced(ctx, t.traceID, tp) {
		// Tracing off, or the job sampled out: no span, no traceparent
		// for the result event, and none of its steps' spans.
		ctx, _ = tracing.StartHop(ctx, "", t.traceID, tp)
		return ctx, func(outcome) {}
	}
	ctx, sp := tracing.StartHop(ctx, "worker attempt", t.traceID, tp,
		tracing.Job(t.jobID, t.eventID), oteltrace.WithAttributes(attribute.Int(tracing.AttrAttempt, t.job.Attempt)))
	t.traceparent = tracing.TraceParent(ctx)
	return ctx, func(o outcome) {
		sp.SetAttributes(attribute.String("jobweaver.status", o.status))
		if o.result.ErrorCode != "" {
			sp.SetAttributes(attribute.String("jobweaver.error_code", o.result.ErrorCode))
		}
		sp.End()
	}
}

// startStepSpan starts the span of one step.
func startStepSpan(ctx context.Context, st step.Step, env step.Env) (context.Context, oteltrace.Span) {
	if !tracing.Traced(ctx) {
		return ctx, oteltrace.SpanFromContext(context.Background())
	}
	return tracing.Start(ctx, "worker step "+st.Action(), oteltrace.WithAttributes(
		attribute.Int(tracing.AttrStep, env.Index), attribute.String(tracing.AttrAction, st.Action())))
}
