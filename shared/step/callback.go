package step

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
)

// Bounds of WAIT_FOR_CALLBACK's timeoutMs: 1 s to 7 days, 1 day by
// default.
const (
	MinCallbackTimeoutMs     = 1000
	MaxCallbackTimeoutMs     = 7 * 24 * 3600 * 1000
	DefaultCallbackTimeoutMs = 24 * 3600 * 1000
)

// CodeCallbackTimeout fails (permanently) a WAIT_FOR_CALLBACK step whose
// timeout passed without a callback.
const CodeCallbackTimeout = "WORKER.CALLBACK_TIMEOUT"

// ErrAwaitCallback is what a WAIT_FOR_CALLBACK step returns when run
// without its callback's result: the worker parks the job instead of
// running it (CallbackWait).
var ErrAwaitCallback = errors.New("the step waits for its callback")

// WAIT_FOR_CALLBACK {timeoutMs?} (DATA_PIPELINE only): parks the job
// until POST /api/jobs/{id}/callbacks/{token} or its timeout. Its output
// is the callback's JSON body; a timeout fails it with
// CodeCallbackTimeout.
type callbackStep struct {
	Kind      string `json:"action"`
	TimeoutMs *int64 `json:"timeoutMs,omitempty"`
}

func parseCallback(raw json.RawMessage) (Step, error) {
	var s callbackStep
	if err := strict(raw, &s); err != nil {
		return nil, err
	}
	if err := between("timeoutMs", s.TimeoutMs, MinCallbackTimeoutMs, MaxCallbackTimeoutMs, false); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *callbackStep) Action() string { return "WAIT_FOR_CALLBACK" }

// Simulated is 0: the wait holds no attempt.
func (s *callbackStep) Simulated() int64 { return 0 }

func (s *callbackStep) timeout() time.Duration {
	if s.TimeoutMs == nil {
		return DefaultCallbackTimeoutMs * time.Millisecond
	}
	return time.Duration(*s.TimeoutMs) * time.Millisecond
}

func (s *callbackStep) Run(ctx context.Context, env Env) error {
	_, err := s.Produce(ctx, env)
	return err
}

// Produce returns the callback's body, the step's output, from
// env.Callback: ErrAwaitCallback without a result for this step, a
// permanent CodeCallbackTimeout failure after a timeout.
func (s *callbackStep) Produce(_ context.Context, env Env) (json.RawMessage, error) {
	c := env.Callback
	switch {
	case c == nil || c.StepIndex != env.Index:
		return nil, ErrAwaitCallback
	case c.TimedOut:
		return nil, &CodedError{Code: CodeCallbackTimeout, Permanent: true, Err: fmt.Errorf(
			"%w: no callback came within its timeout of %d ms", ErrStepFailed, s.timeout().Milliseconds())}
	case len(c.Body) == 0:
		return nil, fmt.Errorf("%w: the callback's result has no body", ErrStepFailed)
	}
	return c.Body, nil
}

// CallbackWait reports whether s is a WAIT_FOR_CALLBACK step (with or
// without an id) and how long it waits at most.
func CallbackWait(s Step) (time.Duration, bool) {
	if i, ok := s.(*identified); ok {
		s = i.Step
	}
	if c, ok := s.(*callbackStep); ok {
		return c.timeout(), true
	}
	return 0, false
}

// HasCallback reports whether a callback result is for step k.
func HasCallback(c *envelope.CallbackResult, k int) bool {
	return c != nil && c.StepIndex == k
}
