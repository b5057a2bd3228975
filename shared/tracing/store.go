package tracing

import (
	"context"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Span is one finished span as GET /api/jobs/{id}/trace shows it.
type Span struct {
	TraceID      string         `json:"traceId"`
	SpanID       string         `json:"spanId"`
	ParentSpanID string         `json:"parentSpanId"`
	Name         string         `json:"name"`
	Service      string         `json:"service"`
	Start        time.Time      `json:"start"`
	End          time.Time      `json:"end"`
	Attributes   map[string]any `json:"attributes"`
}

// Store keeps the latest finished spans in memory, by trace, up to a
// number of spans: past it the oldest traces are dropped whole. It is an
// sdktrace.SpanProcessor, so several providers (the local stack's four
// functions) can share one.
type Store struct {
	max int

	mu     sync.Mutex
	traces map[trace.TraceID][]Span
	order  []trace.TraceID // oldest first
	n      int
}

// NewStore keeps up to max spans (DefaultStoreSpans if max <= 0).
func NewStore(max int) *Store {
	if max <= 0 {
		max = DefaultStoreSpans
	}
	return &Store{max: max, traces: map[trace.TraceID][]Span{}}
}

// OnStart implements sdktrace.SpanProcessor.
func (s *Store) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd implements sdktrace.SpanProcessor: it keeps a sampled span.
func (s *Store) OnEnd(rs sdktrace.ReadOnlySpan) {
	sc := rs.SpanContext()
	if !sc.IsSampled() {
		return
	}
	sp := Span{
		TraceID: sc.TraceID().String(),
		SpanID:  sc.SpanID().String(),
		Name:    rs.Name(),
		Start:   rs.StartTime().UTC(),
		End:     rs.EndTime().UTC(),
	}
	if p := rs.Parent(); p.IsValid() {
		sp.ParentSpanID = p.SpanID().String()
	}
	if res := rs.Resource(); res != nil {
		if v, ok := res.Set().Value("service.name"); ok {
			sp.Service = v.AsString()
		}
	}
	attrs := rs.Attributes()
	sp.Attributes = make(map[string]any, len(attrs)+1)
	for _, kv := range attrs {
		sp.Attributes[string(kv.Key)] = value(kv.Value)
	}
	if st := rs.Status(); st.Code.String() == "Error" {
		sp.Attributes["error"] = st.Description
	}
	s.add(sc.TraceID(), sp)
}

func value(v attribute.Value) any {
	switch v.Type() {
	case attribute.BOOL:
		return v.AsBool()
	case attribute.INT64:
		return v.AsInt64()
	case attribute.FLOAT64:
		return v.AsFloat64()
	case attribute.STRING:
		return v.AsString()
	default:
		return v.String()
	}
}

func (s *Store) add(id trace.TraceID, sp Span) {
	s.mu.Lock()
	defer s.mu.Unlock()
	spans, ok := s.traces[id]
	if !ok {
		s.order = append(s.order, id)
	}
	s.traces[id] = append(spans, sp)
	s.n++
	for s.n > s.max && len(s.order) > 1 {
		old := s.order[0]
		s.order = s.order[1:]
		s.n -= len(s.traces[old])
		delete(s.traces, old)
	}
}

// Trace returns a copy of the spans of the trace id, by start time.
func (s *Store) Trace(id trace.TraceID) []Span {
	s.mu.Lock()
	spans := slices.Clone(s.traces[id])
	s.mu.Unlock()
	slices.SortStableFunc(spans, func(a, b Span) int { return a.Start.Compare(b.Start) })
	return spans
}

// Max is how many spans the store keeps at most.
func (s *Store) Max() int { return s.max }

// Len is how many spans the store holds.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Shutdown implements sdktrace.SpanProcessor.
func (s *Store) Shutdown(context.Context) error { return nil }

// ForceFlush implements sdktrace.SpanProcessor.
func (s *Store) ForceFlush(context.Context) error { return nil }

// JobTrace is a job's part of a trace: the spans that name the job
// (AttrJobID) or sit below one that does, and those above them that name
// no job (the API request, ...). Other jobs of the same trace (a batch,
// or a client's X-Trace-Id reused) are left out. At most max spans, the
// earliest.
func JobTrace(spans []Span, jobID string, max int) []Span {
	byID := make(map[string]*Span, len(spans))
	for i := range spans {
		byID[spans[i].SpanID] = &spans[i]
	}
	// owner walks up to the nearest span that names a job.
	memo := map[string]string{}
	var owner func(sp *Span, depth int) string
	owner = func(sp *Span, depth int) string {
		if j, ok := memo[sp.SpanID]; ok {
			return j
		}
		j, _ := sp.Attributes[AttrJobID].(string)
		if j == "" && depth < 64 {
			if p, ok := byID[sp.ParentSpanID]; ok {
				j = owner(p, depth+1)
			}
		}
		memo[sp.SpanID] = j
		return j
	}
	out := make([]Span, 0, len(spans))
	for i := range spans {
		if j := owner(&spans[i], 0); j == "" || j == jobID {
			out = append(out, spans[i])
			if len(out) == max {
				break
			}
		}
	}
	return out
}
