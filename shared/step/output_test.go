package step_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/step"
)

// HTTP_CALL's output for each kind of answer.
func TestHTTPCallOutput(t *testing.T) {
	var gotBody, gotType, gotHeader, gotMethod string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody, gotType, gotHeader, gotMethod = string(b), r.Header.Get("Content-Type"), r.Header.Get("X-Key"), r.Method
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, ` {"a": [1, 2], "b": "<x>"} `)
		case "/text":
			_, _ = io.WriteString(w, "hello")
		case "/long":
			_, _ = io.WriteString(w, strings.Repeat("é", step.MaxBodyOutputBytes))
		case "/binary":
			_, _ = w.Write([]byte{0xff, 0xfe, 0x00, 0x01})
		case "/empty":
			w.WriteHeader(204)
		case "/fail":
			w.WriteHeader(503)
			_, _ = io.WriteString(w, `{"error":"down"}`)
		}
	}))
	defer srv.Close()
	env := step.Env{HTTP: srv.Client()}
	for _, c := range []struct {
		path, extra string
		body        string // the output's body, JSON
		truncated   bool
		fails       bool
	}{
		{"/json", "", `{"a":[1,2],"b":"<x>"}`, false, false},
		{"/text", "", `"hello"`, false, false},
		{"/binary", "", `null`, true, false},
		{"/empty", "", `null`, false, false},
		{"/fail", "", `{"error":"down"}`, false, true},
		{"/json", `,"method":"POST","headers":{"X-Key":"k"},"body":{"q":1}`, `{"a":[1,2],"b":"<x>"}`, false, false},
	} {
		s, err := step.Pipeline.Parse(json.RawMessage(`{"id":"x","action":"HTTP_CALL","url":"` + srv.URL + c.path + `"` + c.extra + `}`))
		if err != nil {
			t.Fatal(err)
		}
		if step.ID(s) != "x" {
			t.Fatalf("ID = %q", step.ID(s))
		}
		out, err := s.(step.Producer).Produce(context.Background(), env)
		if (err != nil) != c.fails || (err != nil && !errors.Is(err, step.ErrStepFailed)) {
			t.Errorf("%s: err = %v", c.path, err)
		}
		var o struct {
			Status    int               `json:"status"`
			Headers   map[string]string `json:"headers"`
			Body      json.RawMessage   `json:"body"`
			Truncated bool              `json:"truncated"`
		}
		if err := json.Unmarshal(out, &o); err != nil {
			t.Fatalf("%s: output %s: %v", c.path, out, err)
		}
		if string(o.Body) != c.body || o.Truncated != c.truncated || o.Status == 0 {
			t.Errorf("%s: output %s; want body %s truncated %v", c.path, out, c.body, c.truncated)
		}
		if c.extra != "" && (gotBody != `{"q":1}` || gotType != "application/json" || gotHeader != "k" || gotMethod != "POST") {
			t.Errorf("request: %q %q %q %q", gotMethod, gotBody, gotType, gotHeader)
		}
	}
	// A long text body is cut to fit, on a rune boundary.
	s, _ := step.Pipeline.Parse(json.RawMessage(`{"action":"HTTP_CALL","url":"` + srv.URL + `/long"}`))
	out, err := s.(step.Producer).Produce(context.Background(), env)
	if err != nil || len(out) > step.MaxOutputBytes || !strings.Contains(string(out), `"truncated":true`) {
		t.Fatalf("long: %d bytes, %v", len(out), err)
	}
	var o struct{ Body string }
	if json.Unmarshal(out, &o) != nil || !strings.HasPrefix(o.Body, "éé") || strings.ContainsRune(o.Body, '\uFFFD') {
		t.Errorf("long body cut badly: %.40q", o.Body)
	}
}

func TestStepIDs(t *testing.T) {
	for _, c := range []struct {
		raw, err string
	}{
		{`{"id":"a_1-b","action":"LOG","message":"x"}`, ""},
		{`{"action":"LOG","id":"_x","message":"x"}`, ""},
		{`{"id":"","action":"LOG","message":"x"}`, "id: must be 1 to 64"},
		{`{"id":"` + strings.Repeat("a", 65) + `","action":"LOG","message":"x"}`, "id: must be 1 to 64"},
		{`{"id":"a b","action":"LOG","message":"x"}`, "id: must be 1 to 64"},
		{`{"id":"a","action":"LOG","message":"x","extra":1}`, "extra: is not a field"},
		{`{"id":"a","action":"LOG"}`, "message: is required"},
		{`{"ID":"a","action":"LOG","message":"x"}`, "ID: is not a field"},
	} {
		s, err := step.Pipeline.Parse(json.RawMessage(c.raw))
		if c.err == "" {
			if err != nil || step.ID(s) == "" || s.Action() != "LOG" {
				t.Errorf("%s: %v %v", c.raw, s, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, step.ErrInvalid) {
			t.Errorf("%s: %v; want %q", c.raw, err, c.err)
		}
	}
	if _, err := step.Default.Parse(json.RawMessage(`{"id":"a","action":"LOG","message":"x"}`)); err == nil {
		t.Error("Default accepted a step id")
	}
	if _, err := step.Default.Parse(json.RawMessage(`{"action":"SCRIPT","source":"result = 1"}`)); err == nil {
		t.Error("Default accepted SCRIPT")
	}
}

func TestScriptStepReadsOutputs(t *testing.T) {
	s, err := step.Pipeline.Parse(json.RawMessage(`{"id":"s","action":"SCRIPT","source":"result = outputs[\"a\"][\"n\"] + 1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Simulated() != step.DefaultScriptTimeoutMs {
		t.Errorf("Simulated = %d", s.Simulated())
	}
	out, err := s.(step.Producer).Produce(context.Background(), step.Env{Outputs: map[string]json.RawMessage{"a": json.RawMessage(`{"n":41}`)}})
	if err != nil || string(out) != "42" {
		t.Fatalf("Produce = %s, %v", out, err)
	}
	_, err = s.(step.Producer).Produce(context.Background(), step.Env{})
	var ce *step.CodedError
	if !errors.As(err, &ce) || ce.Code != step.CodeScriptFailed || ce.Permanent || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("missing output: %v", err)
	}
}
