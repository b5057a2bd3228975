package jobspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/jobweaver/jobweaver/shared/step"
)

// Type is one job type: how its payload is validated, the OpenAPI schema
// that documents it, and the steps it runs.
type Type struct {
	Name string
	// Schema names its payload's schema in docs/openapi.yaml
	// (components/schemas).
	Schema string
	// KeepsOutputs: the worker keeps its steps' outputs, shown in
	// GET /api/jobs/{id}/executions as output.
	KeepsOutputs bool
	// Resumes: its jobs may run past one worker invocation (they yield
	// between steps and resume, uncharged), so the api caps each step's
	// time budget (MaxStepMs), not the attempt's (MaxAttemptMs).
	Resumes bool
	// Parse validates a payload (nil when absent) and returns its plan, or
	// problems, each naming its field ("payload.url: ...").
	Parse func(payload json.RawMessage) (Plan, []string)
}

// Plan is a valid payload: its steps, ready to run, and how it is stored.
type Plan struct {
	Steps []step.Step
	// Parts are what the request hash and the size check count (Job.Steps).
	Parts []json.RawMessage
	// Payload is the payload as stored; nil means {"steps": Parts}.
	Payload json.RawMessage
}

// Registry maps job type names to types.
type Registry struct{ types map[string]Type }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]Type{}} }

// Register adds or replaces a type.
func (r *Registry) Register(t Type) { r.types[t.Name] = t }

// With returns a copy of r with ts added or replaced.
func (r *Registry) With(ts ...Type) *Registry {
	c := NewRegistry()
	for n, t := range r.types {
		c.types[n] = t
	}
	for _, t := range ts {
		c.types[t.Name] = t
	}
	return c
}

// Lookup returns the type named name.
func (r *Registry) Lookup(name string) (Type, bool) {
	t, ok := r.types[name]
	return t, ok
}

// Names lists the registered types, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.types))
	for n := range r.types {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Steps parses a stored payload of jobType for running.
func (r *Registry) Steps(jobType string, payload json.RawMessage) ([]step.Step, Type, error) {
	t, ok := r.types[jobType]
	if !ok {
		return nil, Type{}, fmt.Errorf("jobType: unknown job type %q", jobType)
	}
	plan, problems := t.Parse(payload)
	if len(problems) > 0 {
		return nil, t, fmt.Errorf("%w: %s", step.ErrInvalid, (&Error{Problems: problems}).Error())
	}
	return plan.Steps, t, nil
}

// Default holds the built-in job types.
var Default = func() *Registry {
	r := NewRegistry()
	r.Register(Simulation)
	r.Register(Webhook)
	r.Register(DataPipeline)
	r.Register(BatchProcess)
	return r
}()

// fieldProblem words a step's validation error under prefix.
func fieldProblem(prefix string, err error) string {
	var fe *step.FieldError
	if errors.As(err, &fe) {
		return fmt.Sprintf("%s%s: %s", prefix, fe.Field, fe.Message)
	}
	return fmt.Sprintf("%s %v", prefix, err)
}
