// Package tracing sets up OpenTelemetry for a JobWeaver function and
// carries a job's trace across every hop: the API request, the outbox
// relay, each event-source-mapping invocation and its records, the
// scheduler's ingest, dispatch and result, the worker's attempt and steps,
// and the dlq's store.
//
// One trace per job: the job's trace ID (X-Trace-Id, the envelope's
// traceId) is the OpenTelemetry trace ID (IDOf maps it). W3C traceparent
// travels in every Kafka record's headers and in the outbox rows, so each
// hop's span is the child of the hop before it; where a hop has no record
// to read it from (a dispatch pass claims jobs from the database), it
// hangs under the job's ingest span, whose ID derives from the job ID.
//
// Sampling is parent-based and decided once per trace, at its root, from
// the trace ID (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG): every hop of
// a sampled job records, every hop of the others records nothing and
// hands no traceparent on. That decision is taken before the SDK is
// called, and otelpgx and kotel see only the queries and produces of
// sampled spans, so that a job sampled out costs its hops next to nothing
// (HopTraced, Traced; docs/tracing.md, Overhead). Spans go
// to OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set (in AWS: the ADOT collector
// layer, which forwards them to X-Ray), and else to an in-process Store
// that GET /api/jobs/{id}/trace reads. In the local stack the four
// functions share one Store. See docs/tracing.md.
//
// A Provider travels in the context (WithProvider, done by Wrap at each
// invocation), so that code deep in a service starts spans with Start or
// StartHop without holding a tracer; with none in the context every span
// is a no-op.
package tracing
