package step

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ErrStepFailed is wrapped by a step's deliberate failure.
var ErrStepFailed = errors.New("step failed")

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SLEEP {durationMs}
type sleepStep struct {
	Kind       string `json:"action"`
	DurationMs *int64 `json:"durationMs"`
}

func parseSleep(raw json.RawMessage) (Step, error) {
	var s sleepStep
	if err := strict(raw, &s); err != nil {
		return nil, err
	}
	if err := between("durationMs", s.DurationMs, 0, MaxSleepMs, true); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *sleepStep) Action() string   { return "SLEEP" }
func (s *sleepStep) Simulated() int64 { return *s.DurationMs }
func (s *sleepStep) Run(ctx context.Context, _ Env) error {
	return sleepCtx(ctx, time.Duration(*s.DurationMs)*time.Millisecond)
}

// LOG {message}
type logStep struct {
	Kind    string  `json:"action"`
	Message *string `json:"message"`
}

func parseLog(raw json.RawMessage) (Step, error) {
	var s logStep
	if err := strict(raw, &s); err != nil {
		return nil, err
	}
	if s.Message == nil {
		return nil, invalid("message", "is required")
	}
	if len(*s.Message) > MaxMessageBytes {
		return nil, invalid("message", "must be at most %d bytes", MaxMessageBytes)
	}
	return &s, nil
}

func (s *logStep) Action() string   { return "LOG" }
func (s *logStep) Simulated() int64 { return 0 }
func (s *logStep) Run(ctx context.Context, env Env) error {
	if env.Log != nil {
		env.Log.InfoContext(ctx, *s.Message, "step", env.Index, "action", "LOG", "attempt", env.Attempt)
	}
	return nil
}

// COMPUTE {iterations}: CPU-bound work that checks ctx every 64k rounds.
type computeStep struct {
	Kind       string `json:"action"`
	Iterations *int64 `json:"iterations"`
}

func parseCompute(raw json.RawMessage) (Step, error) {
	var s computeStep
	if err := strict(raw, &s); err != nil {
		return nil, err
	}
	if err := between("iterations", s.Iterations, 1, MaxIterations, true); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *computeStep) Action() string { return "COMPUTE" }

// Simulated is COMPUTE's time budget: its iterations at
// ComputeIterationsPerMs, rounded up.
func (s *computeStep) Simulated() int64 {
	return (*s.Iterations + ComputeIterationsPerMs - 1) / ComputeIterationsPerMs
}

// Sink keeps the compiler from discarding COMPUTE's work.
var Sink uint64

func (s *computeStep) Run(ctx context.Context, _ Env) error {
	x := uint64(88172645463325252)
	for i := int64(0); i < *s.Iterations; i++ {
		x ^= x << 13 // xorshift64
		x ^= x >> 7
		x ^= x << 17
		if i&0xFFFF == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	Sink = x
	return nil
}

// HTTP_CALL {url?, method?, headers?, body?, timeoutMs?, latencyMs?}: a
// real request when url is given, else a simulated wait of latencyMs. A
// real request's output is {status, headers, body, bodyBytes, truncated?},
// body parsed when it is JSON; an answer of 400 or more fails the step.
type httpCallStep struct {
	Kind      string            `json:"action"`
	URL       string            `json:"url,omitempty"`
	Method    string            `json:"method,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	Body      json.RawMessage   `json:"body,omitempty"`
	TimeoutMs *int64            `json:"timeoutMs,omitempty"`
	LatencyMs *int64            `json:"latencyMs,omitempty"`
}

func parseHTTPCall(raw json.RawMessage) (Step, error) {
	var s httpCallStep
	if err := strict(raw, &s); err != nil {
		return nil, err
	}
	if err := between("latencyMs", s.LatencyMs, 0, MaxLatencyMs, false); err != nil {
		return nil, err
	}
	if err := between("timeoutMs", s.TimeoutMs, 1, MaxHTTPTimeout, false); err != nil {
		return nil, err
	}
	if s.URL == "" {
		if s.LatencyMs == nil {
			return nil, invalid("url", "give url for a real request or latencyMs for a simulated one")
		}
		if s.Method != "" || s.TimeoutMs != nil || s.Headers != nil || s.Body != nil {
			return nil, invalid("method", "method and timeoutMs need url (so do headers and body)")
		}
		return &s, nil
	}
	if err := checkRequest(s.URL, &s.Method, httpCallMethods, s.Headers, s.Body); err != nil {
		return nil, err
	}
	return &s, nil
}

// httpCallMethods are HTTP_CALL's methods, the first its default.
var httpCallMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete}

func (s *httpCallStep) Action() string { return "HTTP_CALL" }
func (s *httpCallStep) Simulated() int64 {
	if s.LatencyMs != nil && s.URL == "" {
		return *s.LatencyMs
	}
	if s.TimeoutMs != nil {
		return *s.TimeoutMs
	}
	return 10_000
}

// Run makes the call without keeping an output (SIMULATION): the first
// MiB of the answer is read and dropped, as it always was.
func (s *httpCallStep) Run(ctx context.Context, env Env) error {
	_, err := s.call(ctx, env, false)
	return err
}

// Produce makes the call and returns its output.
func (s *httpCallStep) Produce(ctx context.Context, env Env) (json.RawMessage, error) {
	return s.call(ctx, env, true)
}

func (s *httpCallStep) call(ctx context.Context, env Env, output bool) (json.RawMessage, error) {
	if s.URL == "" {
		return nil, sleepCtx(ctx, time.Duration(*s.LatencyMs)*time.Millisecond)
	}
	timeout := 10 * time.Second
	if s.TimeoutMs != nil {
		timeout = time.Duration(*s.TimeoutMs) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, ctype := requestBody(s.Body)
	req, err := http.NewRequestWithContext(ctx, s.Method, s.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStepFailed, err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	req.Header.Set("User-Agent", "JobWeaver-Worker/1")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range s.Headers {
		req.Header.Set(k, v)
	}
	client := env.HTTP
	if client == nil {
		return nil, fmt.Errorf("%w: no HTTP client configured", ErrStepFailed)
	}
	resp, err := client.Do(req)
	if err != nil {
		// %w twice: callers can tell a refused destination (ssrf.ErrBlocked)
		// or a context deadline from other transport failures.
		return nil, fmt.Errorf("%w: %s %s: %w", ErrStepFailed, s.Method, s.URL, err)
	}
	defer resp.Body.Close()
	var out json.RawMessage
	if output {
		out = readOutput(resp)
	} else {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes))
	}
	if resp.StatusCode >= 400 {
		return out, fmt.Errorf("%w: %s %s answered %d", ErrStepFailed, s.Method, s.URL, resp.StatusCode)
	}
	return out, nil
}

// FAIL {message?, failTimes?}: fails; with failTimes, only attempts
// 1..failTimes fail and later ones succeed.
type failStep struct {
	Kind      string `json:"action"`
	Message   string `json:"message,omitempty"`
	FailTimes *int64 `json:"failTimes,omitempty"`
}

func parseFail(raw json.RawMessage) (Step, error) {
	var s failStep
	if err := strict(raw, &s); err != nil {
		return nil, err
	}
	if len(s.Message) > MaxMessageBytes {
		return nil, invalid("message", "must be at most %d bytes", MaxMessageBytes)
	}
	if err := between("failTimes", s.FailTimes, 0, MaxFailTimes, false); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *failStep) Action() string   { return "FAIL" }
func (s *failStep) Simulated() int64 { return 0 }
func (s *failStep) Run(_ context.Context, env Env) error {
	if s.FailTimes != nil && int64(env.Attempt) > *s.FailTimes {
		return nil
	}
	msg := s.Message
	if msg == "" {
		msg = "FAIL step"
	}
	return fmt.Errorf("%w: %s", ErrStepFailed, msg)
}
