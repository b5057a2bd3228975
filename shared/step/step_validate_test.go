package step

// Validation side of the step engine: parsing, limits and the registry.
// Running steps is covered by step_run_test.go.

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseValidSteps(t *testing.T) {
	cases := []struct {
		raw       string
		action    string
		simulated int64
	}{
		{`{"action":"SLEEP","durationMs":2000}`, "SLEEP", 2000},
		{`{"action":"SLEEP","durationMs":0}`, "SLEEP", 0},
		{`{"action":"LOG","message":"hello"}`, "LOG", 0},
		{`{"action":"COMPUTE","iterations":100000}`, "COMPUTE", 1},
		{`{"action":"COMPUTE","iterations":1}`, "COMPUTE", 1}, // rounded up: never free
		{`{"action":"COMPUTE","iterations":100000000}`, "COMPUTE", 1000},
		{`{"action":"HTTP_CALL","latencyMs":250}`, "HTTP_CALL", 250},
		{`{"action":"HTTP_CALL","url":"https://example.com"}`, "HTTP_CALL", 10_000},
		{`{"action":"HTTP_CALL","url":"https://example.com","timeoutMs":1500}`, "HTTP_CALL", 1500},
		{`{"action":"HTTP_CALL","url":"https://example.com","latencyMs":9,"timeoutMs":1500}`, "HTTP_CALL", 1500},
		{`{"action":"FAIL"}`, "FAIL", 0},
		{`{"action":"FAIL","message":"boom","failTimes":2}`, "FAIL", 0},
	}
	for _, tc := range cases {
		s, err := Default.Parse(json.RawMessage(tc.raw))
		if err != nil {
			t.Errorf("Parse(%s): %v", tc.raw, err)
			continue
		}
		if s.Action() != tc.action || s.Simulated() != tc.simulated {
			t.Errorf("Parse(%s) = %s simulating %d ms, want %s simulating %d ms", tc.raw, s.Action(), s.Simulated(), tc.action, tc.simulated)
		}
	}
}

func TestParseInvalidSteps(t *testing.T) {
	cases := []struct{ raw, field, msg string }{
		{`[]`, "action", "step must be a JSON object"},
		{`"SLEEP"`, "action", "step must be a JSON object"},
		{`{}`, "action", "is required; one of COMPUTE, FAIL, HTTP_CALL, LOG, SLEEP"},
		{`{"action":""}`, "action", "is required"},
		{`{"action":false}`, "action", "must be a string (got bool)"},
		{`{"action":"sleep","durationMs":1}`, "action", `unknown action "sleep"`},
		{`{"action":"SLEEP"}`, "durationMs", "is required"},
		{`{"action":"SLEEP","durationMs":300001}`, "durationMs", "must be between 0 and 300000 (got 300001)"},
		{`{"action":"SLEEP","durationMs":-1}`, "durationMs", "must be between 0 and 300000 (got -1)"},
		{`{"action":"SLEEP","durationMs":"1"}`, "durationMs", "must be an integer (got string)"},
		{`{"action":"SLEEP","durationMs":1,"extra":true}`, "extra", "is not a field of this action"},
		{`{"action":"LOG"}`, "message", "is required"},
		{`{"action":"LOG","message":7}`, "message", "must be a string (got number)"},
		{`{"action":"LOG","message":"` + strings.Repeat("x", MaxMessageBytes+1) + `"}`, "message", "must be at most 4096 bytes"},
		{`{"action":"COMPUTE"}`, "iterations", "is required"},
		{`{"action":"COMPUTE","iterations":0}`, "iterations", "must be between 1 and 100000000 (got 0)"},
		{`{"action":"COMPUTE","iterations":100000001}`, "iterations", "must be between 1 and 100000000"},
		{`{"action":"HTTP_CALL"}`, "url", "give url for a real request or latencyMs"},
		{`{"action":"HTTP_CALL","latencyMs":60001}`, "latencyMs", "must be between 0 and 60000"},
		{`{"action":"HTTP_CALL","latencyMs":1,"method":"GET"}`, "method", "method and timeoutMs need url"},
		{`{"action":"HTTP_CALL","url":"http://a.example","timeoutMs":0}`, "timeoutMs", "must be between 1 and 30000"},
		{`{"action":"HTTP_CALL","url":"http://a.example","timeoutMs":30001}`, "timeoutMs", "must be between 1 and 30000"},
		{`{"action":"HTTP_CALL","url":"gopher://a.example"}`, "url", `scheme must be http or https (got "gopher")`},
		{`{"action":"HTTP_CALL","url":"a.example/path"}`, "url", "must be an absolute http or https URL"},
		{`{"action":"HTTP_CALL","url":"http://u:p@a.example"}`, "url", "must not carry credentials"},
		{`{"action":"HTTP_CALL","url":"http://a.example/` + strings.Repeat("y", MaxURLBytes) + `"}`, "url", "must be at most 2048 bytes"},
		{`{"action":"HTTP_CALL","url":"http://a.example","method":"TRACE"}`, "method", `must be GET, HEAD, POST, PUT or DELETE (got "TRACE")`},
		{`{"action":"FAIL","failTimes":21}`, "failTimes", "must be between 0 and 20 (got 21)"},
		{`{"action":"FAIL","failTimes":-1}`, "failTimes", "must be between 0 and 20"},
		{`{"action":"FAIL","message":"` + strings.Repeat("x", MaxMessageBytes+1) + `"}`, "message", "must be at most 4096 bytes"},
		{`{"action":"FAIL","message":["x"]}`, "message", "must be a string (got array)"},
	}
	for _, tc := range cases {
		_, err := Default.Parse(json.RawMessage(tc.raw))
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("Parse(%.80s): error %v, want a *FieldError", tc.raw, err)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%.80s): %v does not wrap ErrInvalid", tc.raw, err)
		}
		if fe.Field != tc.field || !strings.Contains(fe.Message, tc.msg) {
			t.Errorf("Parse(%.80s) = %q: %q, want %q: …%q…", tc.raw, fe.Field, fe.Message, tc.field, tc.msg)
		}
		if fe.Error() != fe.Field+": "+fe.Message {
			t.Errorf("FieldError.Error() = %q", fe.Error())
		}
	}
}

// A parsed HTTP_CALL without a method runs GET.
func TestParseHTTPCallDefaultsMethod(t *testing.T) {
	s, err := Default.Parse(json.RawMessage(`{"action":"HTTP_CALL","url":"http://a.example"}`))
	if err != nil {
		t.Fatal(err)
	}
	if m := s.(*httpCallStep).Method; m != "GET" {
		t.Fatalf("method = %q, want GET", m)
	}
}

type noopStep struct{}

func (noopStep) Action() string                 { return "NOOP" }
func (noopStep) Run(context.Context, Env) error { return nil }
func (noopStep) Simulated() int64               { return 0 }
func parseNoop(json.RawMessage) (Step, error)   { return noopStep{}, nil }
func parseBroken(json.RawMessage) (Step, error) { return nil, invalid("x", "broken") }
func TestRegistryRegisterAndActions(t *testing.T) {
	r := NewRegistry()
	if got := r.Actions(); len(got) != 0 {
		t.Fatalf("empty registry lists %v", got)
	}
	r.Register("NOOP", parseNoop)
	r.Register("BROKEN", parseBroken)
	if got := r.Actions(); !reflect.DeepEqual(got, []string{"BROKEN", "NOOP"}) {
		t.Fatalf("Actions = %v, want sorted [BROKEN NOOP]", got)
	}
	if s, err := r.Parse(json.RawMessage(`{"action":"NOOP","anything":1}`)); err != nil || s.Action() != "NOOP" {
		t.Fatalf("Parse NOOP = %v, %v", s, err)
	}
	// Registering again replaces the kind.
	r.Register("NOOP", parseBroken)
	if _, err := r.Parse(json.RawMessage(`{"action":"NOOP"}`)); err == nil {
		t.Fatal("the replaced parser was not used")
	}
	if got := Default.Actions(); !reflect.DeepEqual(got, []string{"COMPUTE", "FAIL", "HTTP_CALL", "LOG", "SLEEP"}) {
		t.Fatalf("Default.Actions = %v", got)
	}
}

func TestJSONType(t *testing.T) {
	var i64 *int64
	cases := map[string]any{
		"an integer": int(0), "a number": 1.5, "a string": "", "a boolean": true,
		"an array": []int{}, "an object": struct{}{},
	}
	for want, v := range cases {
		if got := JSONType(reflect.TypeOf(v)); got != want {
			t.Errorf("JSONType(%T) = %q, want %q", v, got, want)
		}
	}
	if got := JSONType(reflect.TypeOf(i64)); got != "an integer" {
		t.Errorf("JSONType(*int64) = %q", got)
	}
	if got := JSONType(nil); got != "a JSON value" {
		t.Errorf("JSONType(nil) = %q", got)
	}
}
