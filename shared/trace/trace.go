// Package trace carries the trace ID and job ID of one request or record
// through a context, and names the headers that carry them between services.
package trace

import (
	"context"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// Header names. HTTPHeader is what clients send and what the API echoes;
// the Kafka headers are set on every record the platform produces.
const (
	HTTPHeader       = "X-Trace-Id"
	KafkaTraceHeader = "traceId"
	KafkaEventHeader = "eventId"
	KafkaTypeHeader  = "type"
)

type traceKey struct{}
type jobKey struct{}

// NewID returns a fresh random trace ID.
func NewID() string { return uuid.NewString() }

// WithTraceID returns a context that carries id.
func WithTraceID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, traceKey{}, id)
}

// TraceID returns the trace ID in ctx, or "".
func TraceID(ctx context.Context) string {
	s, _ := ctx.Value(traceKey{}).(string)
	return s
}

// WithJobID returns a context that carries a job ID for logging.
func WithJobID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, jobKey{}, id)
}

// JobID returns the job ID in ctx, or "".
func JobID(ctx context.Context) string {
	s, _ := ctx.Value(jobKey{}).(string)
	return s
}

// With sets both IDs; empty values are left out.
func With(ctx context.Context, traceID, jobID string) context.Context {
	if traceID != "" {
		ctx = WithTraceID(ctx, traceID)
	}
	if jobID != "" {
		ctx = WithJobID(ctx, jobID)
	}
	return ctx
}

// MaxHTTPLen bounds a trace ID taken from a client's header.
const MaxHTTPLen = 128

// Middleware keeps the caller's X-Trace-Id (or makes a new one when it is
// missing or longer than MaxHTTPLen), echoes it, and puts it in the
// request's context.
func Middleware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimSpace(r.Header.Get(HTTPHeader))
		if id == "" || len(id) > MaxHTTPLen {
			id = NewID()
		}
		w.Header().Set(HTTPHeader, id)
		h.ServeHTTP(w, r.WithContext(WithTraceID(r.Context(), id)))
	})
}
