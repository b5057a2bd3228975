package tracing

import (
	"context"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	"go.opentelemetry.io/otel/trace"
)

// Pool traces a pgx pool's queries with otelpgx: each query (and the wait
// for a connection) is a span below the hop that runs it. Queries outside
// any hop, and those of a job sampled out, record nothing and do not
// reach otelpgx at all (sampledQueries).
func Pool(p *Provider) func(*pgxpool.Config) {
	return func(cfg *pgxpool.Config) {
		cfg.ConnConfig.Tracer = queryTracer(p)
	}
}

// queryTracer is otelpgx's tracer behind sampledQueries.
func queryTracer(p *Provider) *sampledQueries {
	return &sampledQueries{p: p, t: otelpgx.NewTracer(
		otelpgx.WithTracerProvider(p.TracerProvider()),
		otelpgx.WithDisableConnectionDetailsInAttributes(),
	)}
}

// sampledQueries hands a query's hooks to otelpgx only when the span in
// the query's context is sampled: for the others otelpgx would still
// stamp the context, read the clock and record its (unused) metrics on
// every query. A start hook skipped leaves the context as it was, so its
// end hook sees the same unsampled span and skips too; a start hook
// handed on leaves otelpgx's sampled span in the context, so its end
// hook is handed on too.
type sampledQueries struct {
	p *Provider
	t *otelpgx.Tracer
}

var (
	_ pgx.QueryTracer       = (*sampledQueries)(nil)
	_ pgx.BatchTracer       = (*sampledQueries)(nil)
	_ pgx.CopyFromTracer    = (*sampledQueries)(nil)
	_ pgx.PrepareTracer     = (*sampledQueries)(nil)
	_ pgx.ConnectTracer     = (*sampledQueries)(nil)
	_ pgxpool.AcquireTracer = (*sampledQueries)(nil)
)

func (q *sampledQueries) on(ctx context.Context) bool {
	return q.p.recordsUnder(trace.SpanContextFromContext(ctx))
}

// start hands a start hook (otelpgx's f) on in a sampled context.
func start[C, D any](q *sampledQueries, ctx context.Context, c C, d D, f func(context.Context, C, D) context.Context) context.Context {
	if !q.on(ctx) {
		return ctx
	}
	return f(ctx, c, d)
}

// end hands an end hook (otelpgx's f) on in a sampled context.
func end[C, D any](q *sampledQueries, ctx context.Context, c C, d D, f func(context.Context, C, D)) {
	if q.on(ctx) {
		f(ctx, c, d)
	}
}

// TraceQueryStart implements pgx.QueryTracer.
func (q *sampledQueries) TraceQueryStart(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return start(q, ctx, c, d, q.t.TraceQueryStart)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (q *sampledQueries) TraceQueryEnd(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryEndData) {
	end(q, ctx, c, d, q.t.TraceQueryEnd)
}

// TraceBatchStart implements pgx.BatchTracer.
func (q *sampledQueries) TraceBatchStart(ctx context.Context, c *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	return start(q, ctx, c, d, q.t.TraceBatchStart)
}

// TraceBatchQuery implements pgx.BatchTracer.
func (q *sampledQueries) TraceBatchQuery(ctx context.Context, c *pgx.Conn, d pgx.TraceBatchQueryData) {
	end(q, ctx, c, d, q.t.TraceBatchQuery)
}

// TraceBatchEnd implements pgx.BatchTracer.
func (q *sampledQueries) TraceBatchEnd(ctx context.Context, c *pgx.Conn, d pgx.TraceBatchEndData) {
	end(q, ctx, c, d, q.t.TraceBatchEnd)
}

// TraceCopyFromStart implements pgx.CopyFromTracer.
func (q *sampledQueries) TraceCopyFromStart(ctx context.Context, c *pgx.Conn, d pgx.TraceCopyFromStartData) context.Context {
	return start(q, ctx, c, d, q.t.TraceCopyFromStart)
}

// TraceCopyFromEnd implements pgx.CopyFromTracer.
func (q *sampledQueries) TraceCopyFromEnd(ctx context.Context, c *pgx.Conn, d pgx.TraceCopyFromEndData) {
	end(q, ctx, c, d, q.t.TraceCopyFromEnd)
}

// TracePrepareStart implements pgx.PrepareTracer.
func (q *sampledQueries) TracePrepareStart(ctx context.Context, c *pgx.Conn, d pgx.TracePrepareStartData) context.Context {
	return start(q, ctx, c, d, q.t.TracePrepareStart)
}

// TracePrepareEnd implements pgx.PrepareTracer.
func (q *sampledQueries) TracePrepareEnd(ctx context.Context, c *pgx.Conn, d pgx.TracePrepareEndData) {
	end(q, ctx, c, d, q.t.TracePrepareEnd)
}

// TraceConnectStart implements pgx.ConnectTracer.
func (q *sampledQueries) TraceConnectStart(ctx context.Context, d pgx.TraceConnectStartData) context.Context {
	if !q.on(ctx) {
		return ctx
	}
	return q.t.TraceConnectStart(ctx, d)
}

// TraceConnectEnd implements pgx.ConnectTracer.
func (q *sampledQueries) TraceConnectEnd(ctx context.Context, d pgx.TraceConnectEndData) {
	if q.on(ctx) {
		q.t.TraceConnectEnd(ctx, d)
	}
}

// TraceAcquireStart implements pgxpool.AcquireTracer.
func (q *sampledQueries) TraceAcquireStart(ctx context.Context, pool *pgxpool.Pool, d pgxpool.TraceAcquireStartData) context.Context {
	return start(q, ctx, pool, d, q.t.TraceAcquireStart)
}

// TraceAcquireEnd implements pgxpool.AcquireTracer.
func (q *sampledQueries) TraceAcquireEnd(ctx context.Context, pool *pgxpool.Pool, d pgxpool.TraceAcquireEndData) {
	end(q, ctx, pool, d, q.t.TraceAcquireEnd)
}

// Producer traces a franz-go client's produced records with kotel: a
// "<topic> publish" span below the record's context (the relay's span
// for that row), whose traceparent kotel writes into the record's
// headers. A record whose context holds no sampled span (a job sampled
// out) does not reach kotel: no span, no header.
func Producer(p *Provider) kgo.Opt {
	return kgo.WithHooks(produceHooks(p)...)
}

func produceHooks(p *Provider) []kgo.Hook {
	t := kotel.NewTracer(kotel.TracerProvider(p.TracerProvider()), kotel.TracerPropagator(Propagator))
	return []kgo.Hook{sampledProduces{p: p, t: t}}
}

// sampledProduces hands a produced record to kotel's hooks only when its
// context's span is sampled (as sampledQueries does for queries). Only
// the produce hooks: the client it is given to produces and does not
// fetch.
type sampledProduces struct {
	p *Provider
	t *kotel.Tracer
}

var (
	_ kgo.HookProduceRecordBuffered   = sampledProduces{}
	_ kgo.HookProduceRecordUnbuffered = sampledProduces{}
)

func (h sampledProduces) on(r *kgo.Record) bool {
	return r.Context != nil && h.p.recordsUnder(trace.SpanContextFromContext(r.Context))
}

// OnProduceRecordBuffered implements kgo.HookProduceRecordBuffered.
func (h sampledProduces) OnProduceRecordBuffered(r *kgo.Record) {
	if h.on(r) {
		h.t.OnProduceRecordBuffered(r)
	}
}

// OnProduceRecordUnbuffered implements kgo.HookProduceRecordUnbuffered.
func (h sampledProduces) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	if h.on(r) {
		h.t.OnProduceRecordUnbuffered(r, err)
	}
}
