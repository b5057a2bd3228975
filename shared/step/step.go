// Package step is the step engine: a registry of step kinds, each of which
// parses and validates its JSON form and runs it.
//
// The built-in kinds are SLEEP, LOG, COMPUTE, HTTP_CALL and FAIL (Default);
// Pipeline adds SCRIPT and step IDs for DATA_PIPELINE jobs, and WEBHOOK is
// the one step of a WEBHOOK job (ParseWebhook). A new kind is one file with
// its parser and one Register call; the api validates submissions with the
// same registries the worker runs them with (package jobspec).
//
// A step may produce an output (Producer): a JSON document of at most
// MaxOutputBytes, which the worker keeps for job types that keep outputs
// and hands to later steps by step ID (Env.Outputs).
package step

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/strictjson"
)

// Env is what a running step may use.
type Env struct {
	Attempt int          // 1-based attempt number
	Index   int          // the step's index in the job
	Log     *slog.Logger // carries service, traceId, jobId
	HTTP    *http.Client // for HTTP_CALL; guarded against SSRF by the worker
	JobID   string       // the job's ID (WEBHOOK's X-JobWeaver-Job-Id)
	// Outputs are the outputs of the attempt's earlier steps, by step ID
	// (what a SCRIPT reads as outputs).
	Outputs map[string]json.RawMessage
	// SigningKey looks up a webhook signing secret by name
	// (WEBHOOK_SIGNING_KEYS); nil knows none.
	SigningKey func(name string) ([]byte, bool)
	// Callback is the result of the job's WAIT_FOR_CALLBACK wait, if any
	// (for the step at its StepIndex).
	Callback *envelope.CallbackResult
}

// Producer is a step with an output. Produce runs the step and returns
// its output (nil for none), which it may return with an error too (a
// WEBHOOK's response to a failed delivery).
type Producer interface {
	Step
	Produce(ctx context.Context, env Env) (json.RawMessage, error)
}

// MaxOutputBytes caps a step's output.
const MaxOutputBytes = 64 << 10

// Error codes of step failures that say more than WORKER.STEP_FAILED.
const (
	CodeScriptBudget      = "WORKER.SCRIPT_BUDGET_EXCEEDED"
	CodeScriptFailed      = "WORKER.SCRIPT_FAILED"
	CodeWebhookStatus     = "WORKER.WEBHOOK_UNEXPECTED_STATUS"
	CodeWebhookKeyUnknown = "WORKER.WEBHOOK_SIGNING_KEY_UNKNOWN"
	CodeOutputTooLarge    = "WORKER.STEP_OUTPUT_TOO_LARGE"
)

// CodedError is a step failure with its own error code. A Permanent one
// cannot be fixed by a retry: the job goes to the dead-letter queue at
// once.
type CodedError struct {
	Code      string
	Permanent bool
	Err       error
}

func (e *CodedError) Error() string { return e.Err.Error() }
func (e *CodedError) Unwrap() error { return e.Err }

// Step is one parsed, valid step.
type Step interface {
	Action() string
	// Run performs the step. It must return promptly once ctx is done.
	Run(ctx context.Context, env Env) error
	// Simulated is the step's time budget in milliseconds: how long it
	// may take by design (SLEEP's duration, HTTP_CALL's latency or
	// timeout, COMPUTE's iterations at ComputeIterationsPerMs). The
	// budgets of a job's steps add up to its attempt's, which the api
	// caps (jobspec.MaxAttemptMs) so that an attempt fits a worker
	// invocation.
	Simulated() int64
}

// Parser decodes one step's JSON (its "action" included) strictly.
type Parser func(raw json.RawMessage) (Step, error)

// Registry maps actions to parsers. A registry made WithIDs accepts an
// optional "id" on every step.
type Registry struct {
	parsers map[string]Parser
	ids     bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{parsers: map[string]Parser{}} }

// WithIDs returns a copy of r whose steps may carry an "id", extended by
// the kinds given.
func (r *Registry) WithIDs(extra map[string]Parser) *Registry {
	c := &Registry{parsers: make(map[string]Parser, len(r.parsers)+len(extra)), ids: true}
	for a, p := range r.parsers {
		c.parsers[a] = p
	}
	for a, p := range extra {
		c.parsers[a] = p
	}
	return c
}

// Register adds or replaces a kind.
func (r *Registry) Register(action string, p Parser) { r.parsers[action] = p }

// Actions lists the registered actions, sorted.
func (r *Registry) Actions() []string {
	out := make([]string, 0, len(r.parsers))
	for a := range r.parsers {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// ErrInvalid is wrapped by every validation error from Parse.
var ErrInvalid = errors.New("invalid step")

// FieldError names the field a validation problem is about.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Parse reads the step's action and hands it to that kind's parser.
func (r *Registry) Parse(raw json.RawMessage) (Step, error) {
	var head struct {
		Action *string `json:"action"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field == "action" {
			return nil, invalid("action", "must be a string (got %s)", ute.Value)
		}
		return nil, invalid("action", "step must be a JSON object")
	}
	if head.Action == nil || *head.Action == "" {
		return nil, invalid("action", "is required; one of %s", strings.Join(r.Actions(), ", "))
	}
	p, ok := r.parsers[*head.Action]
	if !ok {
		return nil, invalid("action", "unknown action %q; one of %s", *head.Action, strings.Join(r.Actions(), ", "))
	}
	if strictjson.Value(raw, "id") == nil {
		return p(raw)
	}
	if !r.ids {
		return nil, invalid("id", "is not a field of this action; step IDs are for DATA_PIPELINE jobs")
	}
	id, rest, err := cutID(raw)
	if err != nil {
		return nil, err
	}
	s, err := p(rest)
	if err != nil {
		return nil, err
	}
	return &identified{Step: s, id: id}, nil
}

// MaxIDBytes caps a step ID.
const MaxIDBytes = 64

// ID returns a step's ID, or "" if it has none.
func ID(s Step) string {
	if i, ok := s.(*identified); ok {
		return i.id
	}
	return ""
}

// identified is a step with an ID.
type identified struct {
	Step
	id string
}

func (s *identified) Produce(ctx context.Context, env Env) (json.RawMessage, error) {
	if p, ok := s.Step.(Producer); ok {
		return p.Produce(ctx, env)
	}
	return nil, s.Step.Run(ctx, env)
}

// cutID takes the "id" member out of a step object: its value, validated,
// and the object without it.
func cutID(raw json.RawMessage) (string, json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", nil, invalid("step", "must be a JSON object")
	}
	var (
		id    *string
		out   bytes.Buffer
		first = true
	)
	out.WriteByte('{')
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", nil, invalid("step", "must be a JSON object")
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return "", nil, invalid("step", "must be a JSON object")
		}
		if key == "id" {
			if id != nil {
				return "", nil, invalid("id", "appears more than once")
			}
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return "", nil, invalid("id", "must be a string")
			}
			id = &s
			continue
		}
		if !first {
			out.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(key)
		out.Write(k)
		out.WriteByte(':')
		out.Write(v)
	}
	out.WriteByte('}')
	if !validID(*id) {
		return "", nil, invalid("id", "must be 1 to %d letters, digits, _ or -, starting with a letter or _ (got %q)", MaxIDBytes, *id)
	}
	return *id, out.Bytes(), nil
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDBytes {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (c == '-' || c >= '0' && c <= '9'):
		default:
			return false
		}
	}
	return true
}

// strict decodes raw into v, rejecting unknown fields; v must have an
// field tagged "action".
func strict(raw json.RawMessage, v any) error {
	// Exact field names, each once: encoding/json alone would take
	// "Message" for "message" and the last of two "message"s.
	var ke *strictjson.KeyError
	if err := strictjson.CheckKeys(raw, strictjson.Fields(v)); errors.As(err, &ke) {
		switch {
		case ke.Duplicate:
			return invalid(ke.Key, "appears more than once")
		case ke.Want != "":
			return invalid(ke.Key, "is not a field of this action; field names are case-sensitive: %q", ke.Want)
		}
		return invalid(ke.Key, "is not a field of this action")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute):
			return invalid(ute.Field, "must be %s (got %s)", JSONType(ute.Type), ute.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return invalid(f, "is not a field of this action")
		}
		return invalid("step", "%v", err)
	}
	return nil
}

// JSONType describes, for messages, the JSON value a Go type decodes
// from: "an integer", "a string", "an object"...
func JSONType(t reflect.Type) string {
	if t == nil {
		return "a JSON value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a JSON value"
}

// Default is the registry with the built-in kinds.
var Default = func() *Registry {
	r := NewRegistry()
	r.Register("SLEEP", parseSleep)
	r.Register("LOG", parseLog)
	r.Register("COMPUTE", parseCompute)
	r.Register("HTTP_CALL", parseHTTPCall)
	r.Register("FAIL", parseFail)
	return r
}()

// Pipeline is the registry of DATA_PIPELINE jobs: Default's kinds and
// SCRIPT, with step IDs; its SLEEP may last up to MaxParkedSleepMs (it
// parks), and WAIT_FOR_CALLBACK parks until a callback (callback.go).
var Pipeline = Default.WithIDs(map[string]Parser{"SCRIPT": parseScript, "SLEEP": parseLongSleep,
	"WAIT_FOR_CALLBACK": parseCallback})

// Limits on step fields.
const (
	MaxSleepMs      = 300_000
	MaxLatencyMs    = 60_000
	MaxHTTPTimeout  = 30_000
	MaxIterations   = 100_000_000
	MaxMessageBytes = 4096
	MaxURLBytes     = 2048
	MaxFailTimes    = 20

	// ComputeIterationsPerMs converts COMPUTE's iterations to its time
	// budget: 10 ns an iteration, about four times what one xorshift
	// round takes on a 2 GHz core, so that a small Lambda (1 GB: about
	// 0.6 vCPU) stays within it. MaxIterations is then a 1 s budget.
	ComputeIterationsPerMs = 100_000
)

func between(field string, v *int64, lo, hi int64, required bool) error {
	if v == nil {
		if required {
			return invalid(field, "is required")
		}
		return nil
	}
	if *v < lo || *v > hi {
		return invalid(field, "must be between %d and %d (got %d)", lo, hi, *v)
	}
	return nil
}
