package tracing

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// instrumentation is the tracer's name.
const instrumentation = "github.com/jobweaver/jobweaver/shared/tracing"

// Provider is one function's OpenTelemetry tracer provider. A nil
// *Provider is valid and records nothing.
type Provider struct {
	service string
	tp      *sdktrace.TracerProvider
	tracer  trace.Tracer
	store   *Store
	root    sdktrace.Sampler
	// below: the root decision without the SDK, as TraceIDRatioBased
	// takes it (sampled): a trace is in when the last 8 bytes of its ID,
	// shifted right once, are below it. 0: none; all: every trace.
	below uint64
	all   bool
	// parentBased: a span follows its parent's decision (the
	// parentbased_* samplers); else the trace ID decides every span.
	parentBased bool
	sampling    string // the sampler and its share, for people
	exported    bool   // spans go to OTLP: flush at each invocation's end
}

// New builds service's provider from cfg. Disabled gives nil.
func New(ctx context.Context, service string, cfg Config) (*Provider, error) {
	if cfg.Disabled {
		return nil, nil
	}
	sampler, root, err := samplerOf(cfg)
	if err != nil {
		return nil, err
	}
	res := resource.NewSchemaless(attribute.String("service.name", service),
		attribute.String("service.namespace", "jobweaver"))
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler),
		sdktrace.WithIDGenerator(idGenerator{}),
	}
	p := &Provider{service: service, store: cfg.Store, root: root, parentBased: sampler.(hopSampler).parentBased,
		sampling: describeSampling(cfg)}
	p.below, p.all = rootBound(cfg)
	if cfg.Endpoint != "" {
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", cfg.Endpoint, err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
		p.exported = true
	} else if p.store == nil && cfg.StoreSpans > 0 {
		p.store = NewStore(cfg.StoreSpans)
	}
	if p.store != nil {
		opts = append(opts, sdktrace.WithSpanProcessor(p.store))
	}
	p.tp = sdktrace.NewTracerProvider(opts...)
	p.tracer = p.tp.Tracer(instrumentation)
	return p, nil
}

// samplerOf returns the provider's sampler and the root decision it uses
// (for parents rebuilt from a trace ID).
func samplerOf(cfg Config) (sampler, root sdktrace.Sampler, err error) {
	if cfg.Ratio < 0 || cfg.Ratio > 1 || math.IsNaN(cfg.Ratio) {
		return nil, nil, fmt.Errorf("tracing: sampling ratio must be from 0 to 1 (got %g)", cfg.Ratio)
	}
	name, ratio := cfg.Sampler, cfg.Ratio
	if name == "" { // a hand-built Config: every job
		name = SamplerParentAlwaysOn
	}
	switch name {
	case SamplerAlwaysOn, SamplerParentAlwaysOn:
		root = sdktrace.AlwaysSample()
	case SamplerAlwaysOff, SamplerParentAlwaysOff:
		root = sdktrace.NeverSample()
	case SamplerTraceIDRatio, SamplerParentTraceIDRatio:
		root = sdktrace.TraceIDRatioBased(ratio)
	default:
		return nil, nil, fmt.Errorf("tracing: unknown sampler %q", name)
	}
	parentBased := name == SamplerParentAlwaysOn || name == SamplerParentAlwaysOff || name == SamplerParentTraceIDRatio
	return hopSampler{root: root, parentBased: parentBased}, root, nil
}

// hopSampler samples a root span only where a hop starts one (StartHop,
// Start with a hop root): the queries and produces of a pass that serves
// no job in particular (a tick's housekeeping) record nothing, so the
// store holds jobs' traces and not noise. Below a root it follows the
// parent when parentBased, as the parentbased_* samplers do.
type hopSampler struct {
	root        sdktrace.Sampler
	parentBased bool
}

func (s hopSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	psc := trace.SpanContextFromContext(p.ParentContext)
	if psc.IsValid() {
		if s.parentBased {
			d := sdktrace.Drop
			if psc.IsSampled() {
				d = sdktrace.RecordAndSample
			}
			return sdktrace.SamplingResult{Decision: d, Tracestate: psc.TraceState()}
		}
		return s.root.ShouldSample(p)
	}
	if _, ok := p.ParentContext.Value(rootKey{}).(rootIDs); !ok {
		return sdktrace.SamplingResult{Decision: sdktrace.Drop}
	}
	return s.root.ShouldSample(p)
}

func (s hopSampler) Description() string {
	return fmt.Sprintf("JobWeaverHops{parentBased:%t,root:%s}", s.parentBased, s.root.Description())
}

// sampled reports the root decision for a trace ID: whether a parent
// rebuilt from it (JobParent) is sampled. It is the root sampler's
// decision (TestRootDecisionIsTheSamplers), taken without its interface
// and parameters: every hop of every job asks.
func (p *Provider) sampled(id trace.TraceID) bool {
	return p.all || binary.BigEndian.Uint64(id[8:16])>>1 < p.below
}

// rootBound is the bound sampled compares with, as the SDK's
// TraceIDRatioBased computes it, or all.
func rootBound(cfg Config) (below uint64, all bool) {
	switch cfg.Sampler {
	case "", SamplerAlwaysOn, SamplerParentAlwaysOn:
		return 0, true
	case SamplerTraceIDRatio, SamplerParentTraceIDRatio:
		if cfg.Ratio >= 1 {
			return 0, true
		}
		if cfg.Ratio <= 0 {
			return 0, false
		}
		return uint64(cfg.Ratio * (1 << 63)), false
	default:
		return 0, false
	}
}

// Samples reports the root decision for a job's trace ID (X-Trace-Id):
// whether the job is traced, unless a client's traceparent decided
// otherwise. False for a nil provider.
func (p *Provider) Samples(traceID string) bool {
	return p != nil && p.sampled(IDOf(traceID))
}

// Sampling says which jobs the provider traces, for people: the sampler
// and the share of jobs.
func (p *Provider) Sampling() string {
	if p == nil {
		return "tracing off"
	}
	return p.sampling
}

func describeSampling(cfg Config) string {
	switch cfg.Sampler {
	case "":
		return "every job"
	case SamplerTraceIDRatio, SamplerParentTraceIDRatio:
		return fmt.Sprintf("%s: %s of jobs (OTEL_TRACES_SAMPLER_ARG=%s)", cfg.Sampler,
			strconv.FormatFloat(cfg.Ratio*100, 'f', -1, 64)+" %", strconv.FormatFloat(cfg.Ratio, 'f', -1, 64))
	default:
		return cfg.Sampler
	}
}

// Service is the provider's service name.
func (p *Provider) Service() string {
	if p == nil {
		return ""
	}
	return p.service
}

// Store is where the provider keeps spans in process, or nil.
func (p *Provider) Store() *Store {
	if p == nil {
		return nil
	}
	return p.store
}

// TracerProvider is the provider for instrumentation libraries (otelpgx,
// kotel); a nil Provider gives a no-op one.
func (p *Provider) TracerProvider() trace.TracerProvider {
	if p == nil {
		return noop.NewTracerProvider()
	}
	return p.tp
}

// Flush exports what is buffered, when spans go to OTLP: Lambda may
// freeze the environment once the invocation returns.
func (p *Provider) Flush(ctx context.Context) error {
	if p == nil || !p.exported {
		return nil
	}
	return p.tp.ForceFlush(ctx)
}

// Shutdown flushes and stops the provider.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	return p.tp.Shutdown(ctx)
}

// Propagator is the W3C trace-context propagator used on Kafka headers
// and HTTP.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// rootKey marks a context whose next root span is a hop's: its IDs.
type rootKey struct{}

type rootIDs struct {
	trace trace.TraceID
	span  trace.SpanID // zero: random
}

// idGenerator gives a hop's root span the job's trace ID (and, for an
// ingest span, its derived span ID); other IDs are random.
type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	r, _ := ctx.Value(rootKey{}).(rootIDs)
	tid := r.trace
	if !tid.IsValid() {
		tid = randomTraceID()
	}
	sid := r.span
	if !sid.IsValid() {
		sid = randomSpanID()
	}
	return tid, sid
}

func (idGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if r, ok := ctx.Value(rootKey{}).(rootIDs); ok && r.span.IsValid() {
		return r.span
	}
	return randomSpanID()
}

func randomTraceID() trace.TraceID {
	var id trace.TraceID
	for !id.IsValid() {
		binary.NativeEndian.PutUint64(id[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(id[8:], rand.Uint64())
	}
	return id
}

func randomSpanID() trace.SpanID {
	var id trace.SpanID
	for !id.IsValid() {
		binary.NativeEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}
