// Package step is the step engine: a registry of step kinds, each of which
// parses and validates its JSON form and runs it.
//
// The built-in kinds are SLEEP, LOG, COMPUTE, HTTP_CALL and FAIL. A new kind
// is one Register call with a parser; the api validates submissions with
// the same registry the worker runs them with.
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

	"github.com/jobweaver/jobweaver/shared/strictjson"
)

// Env is what a running step may use.
type Env struct {
	Attempt int          // 1-based attempt number
	Index   int          // the step's index in the job
	Log     *slog.Logger // carries service, traceId, jobId
	HTTP    *http.Client // for HTTP_CALL; guarded against SSRF by the worker
}

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

// Registry maps actions to parsers.
type Registry struct{ parsers map[string]Parser }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{parsers: map[string]Parser{}} }

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
	return p(raw)
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
