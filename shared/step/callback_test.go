package step

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
)

func TestParseCallback(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		raw   string
		wait  time.Duration
		field string // the field the error names; "" if valid
	}{
		{`{"action":"WAIT_FOR_CALLBACK"}`, 24 * time.Hour, ""},
		{`{"id":"approval","action":"WAIT_FOR_CALLBACK","timeoutMs":1000}`, time.Second, ""},
		{`{"action":"WAIT_FOR_CALLBACK","timeoutMs":604800000}`, 7 * 24 * time.Hour, ""},
		{`{"action":"WAIT_FOR_CALLBACK","timeoutMs":999}`, 0, "timeoutMs"},
		{`{"action":"WAIT_FOR_CALLBACK","timeoutMs":604800001}`, 0, "timeoutMs"},
		{`{"action":"WAIT_FOR_CALLBACK","timeoutMs":"1000"}`, 0, "timeoutMs"},
		{`{"action":"WAIT_FOR_CALLBACK","TimeoutMs":1000}`, 0, "TimeoutMs"},
		{`{"action":"WAIT_FOR_CALLBACK","token":"x"}`, 0, "token"},
	} {
		s, err := Pipeline.Parse(json.RawMessage(c.raw))
		if c.field != "" {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Errorf("Parse(%s) = %v; want an error on %s", c.raw, err, c.field)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%s): %v", c.raw, err)
			continue
		}
		wait, ok := CallbackWait(s)
		if !ok || wait != c.wait || s.Action() != "WAIT_FOR_CALLBACK" || s.Simulated() != 0 || Classify(s) != IO {
			t.Errorf("Parse(%s): wait %v %v, simulated %d, class %v", c.raw, wait, ok, s.Simulated(), Classify(s))
		}
	}
	// DATA_PIPELINE only.
	if _, err := Default.Parse(json.RawMessage(`{"action":"WAIT_FOR_CALLBACK"}`)); err == nil {
		t.Error("SIMULATION accepts WAIT_FOR_CALLBACK")
	}
	if _, ok := CallbackWait(&sleepStep{}); ok {
		t.Error("a SLEEP is a callback wait")
	}
}

func TestCallbackProduce(t *testing.T) {
	t.Parallel()
	s, err := Pipeline.Parse(json.RawMessage(`{"id":"a","action":"WAIT_FOR_CALLBACK","timeoutMs":5000}`))
	if err != nil {
		t.Fatal(err)
	}
	p := s.(Producer)
	for _, c := range []struct {
		name string
		cb   *envelope.CallbackResult
		out  string
		code string // the CodedError's code; "await" for ErrAwaitCallback
	}{
		{"no result", nil, "", "await"},
		{"another step's", &envelope.CallbackResult{StepIndex: 3, Body: json.RawMessage(`{}`)}, "", "await"},
		{"body", &envelope.CallbackResult{StepIndex: 2, Body: json.RawMessage(`{"ok":1}`)}, `{"ok":1}`, ""},
		{"null body", &envelope.CallbackResult{StepIndex: 2, Body: json.RawMessage(`null`)}, `null`, ""},
		{"timed out", &envelope.CallbackResult{StepIndex: 2, TimedOut: true}, "", CodeCallbackTimeout},
	} {
		out, err := p.Produce(context.Background(), Env{Index: 2, Callback: c.cb})
		var ce *CodedError
		switch {
		case c.code == "await":
			if !errors.Is(err, ErrAwaitCallback) {
				t.Errorf("%s: %v", c.name, err)
			}
		case c.code != "":
			if !errors.As(err, &ce) || ce.Code != c.code || !ce.Permanent || !strings.Contains(err.Error(), "5000 ms") {
				t.Errorf("%s: %v", c.name, err)
			}
		case err != nil || string(out) != c.out:
			t.Errorf("%s: %s, %v", c.name, out, err)
		}
	}
}
