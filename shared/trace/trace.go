// Package trace carries the trace ID and job ID of one request or record
// through a context, and names the headers that carry them between services.
package trace

import (
	"context"
	"encoding/hex"
	"net/http"

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

// NewID returns a fresh random trace ID: 32 lower-case hex digits, a W3C
// trace ID, so that it is the OpenTelemetry trace ID as it is.
func NewID() string {
	id := uuid.New()
	return hex.EncodeToString(id[:])
}

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

// ReplacedHeader is set to "true" on a response whose request carried an
// X-Trace-Id that was not valid (ValidID): the response's X-Trace-Id is
// then a new ID, not the client's.
const ReplacedHeader = "X-Trace-Id-Replaced"

// ValidID reports whether a client's trace ID is kept: 1 to MaxHTTPLen
// characters of A-Z, a-z, 0-9 and . _ : - (a UUID, a W3C trace ID or
// traceparent, an AWS X-Ray ID all fit). Nothing else is echoed or logged,
// control characters least of all.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxHTTPLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// FromHeader returns the trace ID of a request: the client's X-Trace-Id
// when it is valid (ValidID), else a new ID. replaced reports that the
// client sent one that was not valid; its value must not be echoed or
// logged.
func FromHeader(h http.Header) (id string, replaced bool) {
	sent := h.Get(HTTPHeader)
	if ValidID(sent) {
		return sent, false
	}
	return NewID(), sent != ""
}

// Middleware keeps the caller's X-Trace-Id when it is valid (ValidID),
// else makes a new one (and sets ReplacedHeader if the caller sent an
// invalid one), echoes it, and puts it in the request's context.
func Middleware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, replaced := FromHeader(r.Header)
		w.Header().Set(HTTPHeader, id)
		if replaced {
			w.Header().Set(ReplacedHeader, "true")
		}
		h.ServeHTTP(w, r.WithContext(WithTraceID(r.Context(), id)))
	})
}
