// Package jobspec decodes and validates a job submission
// {jobType, payload, maxRetryCount} through a registry of job types
// (Registry; Default holds SIMULATION, WEBHOOK, DATA_PIPELINE and
// BATCH_PROCESS). Each
// job type validates its own payload, names its OpenAPI schema and says
// which steps it runs; the api validates with the registry the worker
// runs with.
package jobspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/step"
	"github.com/jobweaver/jobweaver/shared/strictjson"
)

// Limits on a submission.
const (
	MaxSteps          = 100
	MaxRetryCount     = 20
	DefaultRetryCount = 3
	// MaxAttemptMs caps the time budget of a job of a type that does not
	// resume (Type.Resumes: SIMULATION, WEBHOOK): its steps' budgets
	// (step.Step.Simulated: SLEEP, HTTP_CALL, COMPUTE, SCRIPT) added up,
	// the original contract's limit. The worker need not hold it in one
	// invocation: every attempt resumes after a deadline cut.
	MaxAttemptMs = 600_000
	// MaxStepMs caps one step's time budget in every job type (a SLEEP
	// excepted: past the worker's park threshold it parks instead of
	// running). It is the longest step kind's cap (HTTP_CALL latencyMs).
	// A worker whose timeout holds it and its margins (worker.CheckTimeout)
	// runs every step the api accepts; a longer job yields between steps
	// and resumes in the next invocation.
	MaxStepMs = 60_000
)

// JobTypes are the job types Default accepts (the api's ?type= filter).
var JobTypes = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range Default.Names() {
		m[n] = true
	}
	return m
}()

// Job is a valid submission.
type Job struct {
	JobType string
	// Steps are what the request hash and the size check count: the
	// payload's steps, or the one payload object of a job type without a
	// step list (WEBHOOK).
	Steps         []json.RawMessage
	MaxRetryCount int
	// Payload is the payload as stored and sent; nil means {"steps": Steps}.
	Payload json.RawMessage
}

// PayloadJSON returns the payload as stored and sent: {"steps":[...]} for
// the step-list types, as it always was.
func (j Job) PayloadJSON() json.RawMessage {
	if j.Payload != nil {
		return j.Payload
	}
	return stepsJSON(j.Steps)
}

func stepsJSON(steps []json.RawMessage) json.RawMessage {
	// Not HTML-escaped: a < in a step travels as one byte, not six.
	b, _ := envelope.JSON(struct {
		Steps []json.RawMessage `json:"steps"`
	}{steps})
	return b
}

// Error lists what is wrong with a submission.
type Error struct{ Problems []string }

func (e *Error) Error() string { return strings.Join(e.Problems, "; ") }

type request struct {
	JobType       *string         `json:"jobType"`
	Payload       json.RawMessage `json:"payload"`
	MaxRetryCount *int            `json:"maxRetryCount"`
}

// Decode parses body strictly (unknown fields and trailing data are
// rejected) and validates every field against its job type in types.
// Without a known jobType, the payload is checked as SIMULATION's, the
// original contract, so that every problem is named at once.
func Decode(body []byte, types *Registry) (Job, error) {
	// Text Postgres cannot store would fail the insert: a 4xx names it.
	if err := strictjson.CheckText(body); err != nil {
		return Job{}, &Error{Problems: []string{"body holds " + err.Error() + ": send UTF-8 text without NUL characters"}}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req request
	if err := dec.Decode(&req); err != nil {
		return Job{}, &Error{Problems: []string{describe(err)}}
	}
	if err := strictjson.CheckEnd(body, dec.InputOffset()); err != nil {
		return Job{}, &Error{Problems: []string{"body must hold exactly one JSON object: " + err.Error()}}
	}
	// Exact field names, each once (encoding/json matches any case and
	// keeps the last of two equal keys).
	if msg := checkKeys("", body, &req); msg != "" {
		return Job{}, &Error{Problems: []string{msg}}
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	job := Job{MaxRetryCount: DefaultRetryCount}
	typ, known := Type{}, false
	switch {
	case req.JobType == nil || *req.JobType == "":
		add("jobType: is required; one of %s", strings.Join(types.Names(), ", "))
	default:
		if typ, known = types.Lookup(*req.JobType); !known {
			add("jobType: unknown job type %q; one of %s", *req.JobType, strings.Join(types.Names(), ", "))
		} else {
			job.JobType = typ.Name
		}
	}
	if !known {
		// Checked as the original contract's, for its messages.
		if typ, known = types.Lookup("SIMULATION"); !known {
			typ = StepList("SIMULATION", "", step.Default, false)
		}
	}
	if req.MaxRetryCount != nil {
		if *req.MaxRetryCount < 0 || *req.MaxRetryCount > MaxRetryCount {
			add("maxRetryCount: must be between 0 and %d (got %d)", MaxRetryCount, *req.MaxRetryCount)
		}
		job.MaxRetryCount = *req.MaxRetryCount
	}
	plan, more := typ.Parse(req.Payload)
	problems = append(problems, more...)
	if len(problems) > 0 {
		return Job{}, &Error{Problems: problems}
	}
	job.Steps, job.Payload = plan.Parts, plan.Payload
	return job, nil
}

// ParseSteps parses a stored SIMULATION payload {"steps":[...]} for
// running, with reg.
func ParseSteps(payloadJSON []byte, reg *step.Registry) ([]step.Step, error) {
	return parseStored(payloadJSON, reg)
}

func parseStored(payloadJSON []byte, reg *step.Registry) ([]step.Step, error) {
	var p struct {
		Steps []json.RawMessage `json:"steps"`
	}
	if err := json.Unmarshal(payloadJSON, &p); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	out := make([]step.Step, len(p.Steps))
	for i, raw := range p.Steps {
		s, err := reg.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("payload.steps[%d]: %w", i, err)
		}
		out[i] = s
	}
	return out, nil
}

// checkKeys says what is wrong with the keys of the object raw, decoded
// into v, or "" if nothing is.
func checkKeys(prefix string, raw []byte, v any) string {
	var ke *strictjson.KeyError
	if !errors.As(strictjson.CheckKeys(raw, strictjson.Fields(v)), &ke) {
		return ""
	}
	switch {
	case ke.Duplicate:
		return fmt.Sprintf("%s%s: appears more than once", prefix, ke.Key)
	case ke.Want != "":
		return fmt.Sprintf("%s%s: is not a field of a job submission; field names are case-sensitive: %q", prefix, ke.Key, ke.Want)
	}
	return fmt.Sprintf("%s%s: is not a field of a job submission", prefix, ke.Key)
}

func describe(err error) string {
	var se *json.SyntaxError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("body is not valid JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &ute) && ute.Field == "":
		return fmt.Sprintf("body must be a JSON object (got %s)", ute.Value)
	case errors.As(err, &ute):
		return fmt.Sprintf("%s: must be %s (got %s)", ute.Field, step.JSONType(ute.Type), ute.Value)
	case errors.Is(err, io.EOF):
		return "body is empty; send a JSON job submission"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "body is not valid JSON: it ends too early"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Sprintf("%s: is not a field of a job submission", strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
	}
	return "body is not a valid job submission: " + err.Error()
}
