package api

import (
	"context"
	"fmt"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/tracing"
)

// startRequestSpan starts the API request's span in the trace of its
// X-Trace-Id (traceID): the root of a job's trace when the request
// submits one. A W3C traceparent the client sends in the same trace is
// its parent. The service's provider serves a request that did not come
// through tracing.Wrap (HTTPHandler).
func (s *Service) startRequestSpan(ctx context.Context, r *http.Request, traceID string) (context.Context, oteltrace.Span) {
	if tracing.FromContext(ctx) == nil {
		ctx = tracing.WithProvider(ctx, s.tracing)
	}
	tp := r.Header.Get(tracing.HeaderTraceParent)
	if !tracing.HopTraced(ctx, traceID, tp) {
		// Sampled out (or tracing off): no span, and no traceparent in
		// the outbox rows the request writes.
		return tracing.StartHop(ctx, "", traceID, tp)
	}
	return tracing.StartHop(ctx, "api request", traceID, tp,
		oteltrace.WithSpanKind(oteltrace.SpanKindServer),
		oteltrace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
}

// endRequestSpan names the span after the route that served r, notes the
// status and the job, and ends it.
func endRequestSpan(span oteltrace.Span, r *http.Request, status int, jobID string) {
	if !span.IsRecording() {
		span.End()
		return
	}
	if r.Pattern != "" {
		span.SetName("api " + r.Pattern)
		span.SetAttributes(attribute.String("http.route", r.Pattern))
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if jobID != "" {
		span.SetAttributes(attribute.String(tracing.AttrJobID, jobID))
	}
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

// JobTrace is GET /api/jobs/{id}/trace: the spans of the job's trace
// kept in process, by start time.
type JobTrace struct {
	TraceID string         `json:"traceId"`
	Spans   []tracing.Span `json:"spans"`
	// Sampled is whether the job's trace was sampled: it has spans, or
	// the sampler's decision for its trace ID is "in".
	Sampled bool `json:"sampled"`
	// Note says why a job has no spans: tracing off, the job sampled
	// out, or its spans not (or no longer) in the store.
	Note string `json:"note,omitempty"`
}

// MaxTraceSpans caps the spans GET /api/jobs/{id}/trace answers.
const MaxTraceSpans = 10_000

// jobTrace is GET /api/jobs/{id}/trace. Its traceId is the OpenTelemetry
// trace ID of the job's X-Trace-Id (tracing.IDOf); the spans are the job's
// part of that trace (tracing.JobTrace). A job whose trace was not sampled
// (or was dropped from the store) has no spans. Where spans go to OTLP
// and none are kept in process, the answer is 404 API.TRACE_NOT_KEPT.
// With no spans, sampled and note say why: tracing off, the job sampled
// out, or its spans gone from the store (or not there yet).
func (s *Service) jobTrace(w http.ResponseWriter, r *http.Request) error {
	_, sub, err := s.jobRequest(r)
	if err != nil {
		return err
	}
	tid := tracing.IDOf(sub.TraceID)
	if s.tracing == nil {
		httpjson.Write(w, http.StatusOK, JobTrace{TraceID: tid.String(), Spans: []tracing.Span{},
			Note: "tracing is off in this stack, so no job has spans: OTEL_SDK_DISABLED=true is set, or the function runs on its own without OTEL_* settings. Unset OTEL_SDK_DISABLED (the local stack traces 1 % of jobs) or set OTEL_TRACES_SAMPLER_ARG=1 to trace every job (docs/tracing.md)"})
		return nil
	}
	store := s.tracing.Store()
	if store == nil {
		return apierror.New(http.StatusNotFound, "API.TRACE_NOT_KEPT",
			fmt.Sprintf("this api keeps no spans in process: they are exported over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT); look trace %s up there (in AWS: CloudWatch, X-Ray traces)", tid)).WithJob(sub.ID)
	}
	out := JobTrace{TraceID: tid.String(), Spans: tracing.JobTrace(store.Trace(tid), sub.ID, MaxTraceSpans)}
	out.Sampled = len(out.Spans) > 0 || s.tracing.Samples(sub.TraceID)
	switch {
	case !out.Sampled:
		out.Note = "this job was not sampled, so no hop recorded a span: tracing keeps " + s.tracing.Sampling() +
			", decided once per job from its trace ID. Set OTEL_TRACES_SAMPLER_ARG=1 to trace every job (docs/tracing.md)"
	case len(out.Spans) == 0:
		out.Note = fmt.Sprintf("this job was sampled, but the store holds none of its spans: they are not there yet, or the store (%d spans, TRACE_STORE_SPANS) has dropped them for newer traces", store.Max())
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}
