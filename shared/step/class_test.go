package step

import (
	"encoding/json"
	"testing"
)

func TestClassify(t *testing.T) {
	r := Pipeline
	for _, tc := range []struct {
		raw  string
		want Class
	}{
		{`{"action":"SLEEP","durationMs":100}`, IO},
		{`{"action":"HTTP_CALL","latencyMs":100}`, IO},
		{`{"action":"LOG","message":"x"}`, IO},
		{`{"action":"FAIL","message":"x"}`, IO},
		{`{"action":"COMPUTE","iterations":10}`, CPU},
		{`{"id":"a","action":"SLEEP","durationMs":1}`, IO},
		{`{"id":"b","action":"COMPUTE","iterations":10}`, CPU},
		{`{"action":"SCRIPT","source":"output = 1"}`, CPU},
		{`{"id":"s","action":"SCRIPT","source":"output = 1"}`, CPU},
	} {
		s, err := r.Parse(json.RawMessage(tc.raw))
		if err != nil {
			t.Fatalf("%s: %v", tc.raw, err)
		}
		if got := Classify(s); got != tc.want {
			t.Errorf("%s: class %s, want %s", tc.raw, got, tc.want)
		}
	}
}

func TestClassifyTable(t *testing.T) {
	// Every kind that waits is in the table; SCRIPT and COMPUTE are not.
	for _, a := range []string{"SLEEP", "HTTP_CALL", "WEBHOOK", "LOG"} {
		if !ioActions[a] {
			t.Errorf("%s is not I/O-bound", a)
		}
	}
	for _, a := range []string{"SCRIPT", "COMPUTE", "SOMETHING_NEW"} {
		if ioActions[a] {
			t.Errorf("%s is I/O-bound", a)
		}
	}
}

func TestClassOf(t *testing.T) {
	sleep, _ := Default.Parse(json.RawMessage(`{"action":"SLEEP","durationMs":1}`))
	compute, _ := Default.Parse(json.RawMessage(`{"action":"COMPUTE","iterations":1}`))
	for _, tc := range []struct {
		steps []Step
		want  Class
	}{
		{nil, IO},
		{[]Step{sleep, sleep}, IO},
		{[]Step{sleep, compute}, CPU},
	} {
		if got := ClassOf(tc.steps); got != tc.want {
			t.Errorf("%d steps: class %s, want %s", len(tc.steps), got, tc.want)
		}
	}
}
