package step

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jobweaver/jobweaver/shared/script"
)

// SCRIPT {source, timeoutMs?} (DATA_PIPELINE only): a Starlark program
// (package script) that reads earlier outputs as outputs["<id>"] and sets
// result, its output. It is compiled at submit: a script that does not
// parse is refused, naming its line.
type scriptStep struct {
	Kind      string `json:"action"`
	Source    string `json:"source"`
	TimeoutMs *int64 `json:"timeoutMs,omitempty"`

	prog *script.Program
}

// Script limits (see package script for the rest).
const (
	DefaultScriptTimeoutMs = int64(script.DefaultTimeout / time.Millisecond)
	MaxScriptTimeoutMs     = int64(script.MaxTimeout / time.Millisecond)
)

func parseScript(raw json.RawMessage) (Step, error) {
	var s scriptStep
	if err := strict(raw, &s); err != nil {
		return nil, err
	}
	if err := between("timeoutMs", s.TimeoutMs, 1, MaxScriptTimeoutMs, false); err != nil {
		return nil, err
	}
	p, err := script.Check(s.Source)
	if err != nil {
		return nil, invalid("source", "%v", err)
	}
	s.prog = p
	return &s, nil
}

func (s *scriptStep) Action() string { return "SCRIPT" }

func (s *scriptStep) Simulated() int64 {
	if s.TimeoutMs != nil {
		return *s.TimeoutMs
	}
	return DefaultScriptTimeoutMs
}

func (s *scriptStep) Run(ctx context.Context, env Env) error {
	_, err := s.Produce(ctx, env)
	return err
}

func (s *scriptStep) Produce(ctx context.Context, env Env) (json.RawMessage, error) {
	out, err := s.prog.Run(ctx, env.Outputs, time.Duration(s.Simulated())*time.Millisecond)
	if err == nil {
		return out, nil
	}
	var se *script.Error
	if errors.As(err, &se) && se.Budget {
		return nil, &CodedError{Code: CodeScriptBudget, Err: fmt.Errorf("%w: script: %v", ErrStepFailed, err)}
	}
	return nil, &CodedError{Code: CodeScriptFailed, Err: fmt.Errorf("%w: script: %v", ErrStepFailed, err)}
}
