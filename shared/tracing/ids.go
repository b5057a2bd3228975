package tracing

import (
	"crypto/sha256"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// IDOf is the OpenTelemetry trace ID of a job's trace ID (X-Trace-Id):
//   - 32 hex digits (a W3C trace ID, what the API makes): those;
//   - a UUID: its 32 hex digits;
//   - a W3C traceparent (00-<trace id>-<span id>-<flags>): its trace ID;
//   - an AWS X-Ray ID (1-<8 hex>-<24 hex>): its 32 hex digits, as X-Ray's
//     OTLP endpoint maps them;
//   - anything else: the first 16 bytes of its SHA-256, so that every
//     job sent with the same X-Trace-Id shares one trace.
//
// "" has the invalid (zero) ID.
func IDOf(s string) trace.TraceID {
	if s == "" {
		return trace.TraceID{}
	}
	var hexID string
	switch {
	case len(s) == 32:
		hexID = s
	case len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-':
		hexID = s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	case len(s) == 55 && strings.HasPrefix(s, "00-") && s[35] == '-' && s[52] == '-':
		hexID = s[3:35]
	case len(s) == 35 && strings.HasPrefix(s, "1-") && s[10] == '-':
		hexID = s[2:10] + s[11:]
	}
	if hexID != "" {
		if id, err := trace.TraceIDFromHex(strings.ToLower(hexID)); err == nil {
			return id
		}
	}
	sum := sha256.Sum256([]byte(s))
	var id trace.TraceID
	copy(id[:], sum[:16])
	return id
}

// spanIDOf derives a span ID from a key: the ingest span of a job has the
// span ID of "ingest/<job id>", so that a later hop that reads the job from
// the database (a dispatch) can name it as its parent.
func spanIDOf(key string) trace.SpanID {
	sum := sha256.Sum256([]byte(key))
	var id trace.SpanID
	copy(id[:], sum[:8])
	if !id.IsValid() {
		id[7] = 1
	}
	return id
}
