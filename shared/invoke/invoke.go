// Package invoke calls another JobWeaver function by name. In AWS that is
// the Lambda Invoke API; in the local stack it is the in-process handler,
// reached through the same JSON serialization Lambda uses.
//
// The api uses it for the internal queries it cannot answer from its own
// database: a job's live status (scheduler), its attempt history (worker)
// and the dead-letter list (dlq). Those calls travel as API Gateway v2
// events on /internal/... paths.
package invoke

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jobweaver/jobweaver/shared/trace"
)

// Function names.
const (
	API       = "api"
	Scheduler = "scheduler"
	Worker    = "worker"
	DLQ       = "dlq"
)

// Invoker calls a function with a JSON payload and returns its JSON result.
type Invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) ([]byte, error)
}

// Local invokes in-process handlers registered by name. It counts each
// function's invocations and their wall time (Stats), which the bench
// turns into Lambda GB-seconds.
type Local struct {
	mu       sync.RWMutex
	handlers map[string]lambda.Handler
	stats    map[string]*callStats
}

// CallStats are one function's invocations through a Local so far.
type CallStats struct {
	Invocations int64
	// Duration is their wall time summed; Billed rounds each up to the
	// millisecond, as Lambda bills.
	Duration, Billed time.Duration
}

type callStats struct{ n, nanos, billed atomic.Int64 }

// Stats returns each registered function's CallStats so far.
func (l *Local) Stats() map[string]CallStats {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make(map[string]CallStats, len(l.stats))
	for name, s := range l.stats {
		out[name] = CallStats{Invocations: s.n.Load(), Duration: time.Duration(s.nanos.Load()), Billed: time.Duration(s.billed.Load())}
	}
	return out
}

// Register adds a handler; fn is any function lambda.NewHandler accepts.
func (l *Local) Register(name string, h lambda.Handler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.handlers == nil {
		l.handlers = map[string]lambda.Handler{}
		l.stats = map[string]*callStats{}
	}
	l.handlers[name] = h
	if l.stats[name] == nil {
		l.stats[name] = &callStats{}
	}
}

// Invoke implements Invoker.
func (l *Local) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	l.mu.RLock()
	h, st := l.handlers[function], l.stats[function]
	l.mu.RUnlock()
	if h == nil {
		return nil, fmt.Errorf("invoke: no local function %q", function)
	}
	start := time.Now()
	defer func() {
		d := time.Since(start)
		st.n.Add(1)
		st.nanos.Add(int64(d))
		st.billed.Add(int64((d + time.Millisecond - 1) / time.Millisecond * time.Millisecond))
	}()
	return h.Invoke(ctx, payload)
}

// HTTP sends an internal HTTP call (body may be nil) (an API Gateway v2 event) to function and
// returns the status and body of its response.
func HTTP(ctx context.Context, inv Invoker, function, method, path string, query url.Values, body []byte) (int, []byte, error) {
	payload, err := httpEvent(ctx, method, path, query, body)
	if err != nil {
		return 0, nil, err
	}
	out, err := inv.Invoke(ctx, function, payload)
	if err != nil {
		return 0, nil, fmt.Errorf("invoke %s %s %s: %w", function, method, path, err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return 0, nil, fmt.Errorf("invoke %s: response is not an API Gateway v2 response: %w", function, err)
	}
	if resp.StatusCode == 0 {
		resp.StatusCode = http.StatusOK
	}
	return resp.StatusCode, []byte(resp.Body), nil
}

// httpEvent is the API Gateway v2 event of an internal HTTP call.
func httpEvent(ctx context.Context, method, path string, query url.Values, body []byte) ([]byte, error) {
	now := time.Now()
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        path,
		RawQueryString: query.Encode(),
		Headers:        map[string]string{"accept": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:  "$default",
			Stage:     "internal",
			TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: method, Path: path, Protocol: "HTTP/1.1",
			},
		},
	}
	if len(body) > 0 {
		ev.Body = string(body)
		ev.Headers["content-type"] = "application/json"
	}
	if id := trace.TraceID(ctx); id != "" {
		ev.Headers["x-trace-id"] = id
	}
	return json.Marshal(ev)
}
