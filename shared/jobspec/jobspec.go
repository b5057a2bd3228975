// Package jobspec decodes and validates a job submission: the original
// JobWeaver contract {jobType, payload: {steps: [...]}, maxRetryCount}.
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
	// MaxAttemptMs caps an attempt's time budget: its steps' budgets
	// (step.Step.Simulated: SLEEP, HTTP_CALL, COMPUTE) added up. Every
	// deployment's worker timeout exceeds it with room to spare (840 s in
	// AWS and locally; see worker.CheckTimeout), so what the api accepts
	// can run wherever it is deployed. Longer work waits for durable
	// resume.
	MaxAttemptMs = 600_000
)

// JobTypes are the accepted job types.
var JobTypes = map[string]bool{"SIMULATION": true}

// Job is a valid submission.
type Job struct {
	JobType       string
	Steps         []json.RawMessage
	MaxRetryCount int
}

// PayloadJSON returns {"steps":[...]} as stored and sent.
func (j Job) PayloadJSON() json.RawMessage {
	// Not HTML-escaped: a < in a step travels as one byte, not six.
	b, _ := envelope.JSON(struct {
		Steps []json.RawMessage `json:"steps"`
	}{j.Steps})
	return b
}

// Error lists what is wrong with a submission.
type Error struct{ Problems []string }

func (e *Error) Error() string { return strings.Join(e.Problems, "; ") }

type request struct {
	JobType       *string  `json:"jobType"`
	Payload       *payload `json:"payload"`
	MaxRetryCount *int     `json:"maxRetryCount"`
}

type payload struct {
	Steps []json.RawMessage `json:"steps"`
}

// Decode parses body strictly (unknown fields and trailing data are
// rejected) and validates every field and step against reg.
func Decode(body []byte, reg *step.Registry) (Job, error) {
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
	if req.Payload != nil {
		if msg := checkKeys("payload.", strictjson.Value(body, "payload"), req.Payload); msg != "" {
			return Job{}, &Error{Problems: []string{msg}}
		}
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	job := Job{MaxRetryCount: DefaultRetryCount}
	switch {
	case req.JobType == nil || *req.JobType == "":
		add("jobType: is required; one of %s", jobTypeList())
	case !JobTypes[*req.JobType]:
		add("jobType: unknown job type %q; one of %s", *req.JobType, jobTypeList())
	default:
		job.JobType = *req.JobType
	}
	if req.MaxRetryCount != nil {
		if *req.MaxRetryCount < 0 || *req.MaxRetryCount > MaxRetryCount {
			add("maxRetryCount: must be between 0 and %d (got %d)", MaxRetryCount, *req.MaxRetryCount)
		}
		job.MaxRetryCount = *req.MaxRetryCount
	}
	switch {
	case req.Payload == nil:
		add("payload: is required, as {\"steps\": [...]}")
	case len(req.Payload.Steps) == 0:
		add("payload.steps: must hold 1 to %d steps", MaxSteps)
	case len(req.Payload.Steps) > MaxSteps:
		add("payload.steps: must hold 1 to %d steps (got %d)", MaxSteps, len(req.Payload.Steps))
	default:
		var total int64
		for i, raw := range req.Payload.Steps {
			s, err := reg.Parse(raw)
			if err != nil {
				var fe *step.FieldError
				if errors.As(err, &fe) {
					add("payload.steps[%d].%s: %s", i, fe.Field, fe.Message)
				} else {
					add("payload.steps[%d]: %v", i, err)
				}
				continue
			}
			total += s.Simulated()
		}
		if total > MaxAttemptMs {
			add("payload.steps: the attempt time limit is %d ms; these steps' time budgets add up to %d ms "+
				"(SLEEP durationMs, HTTP_CALL latencyMs or timeoutMs (10000 by default), COMPUTE at %d iterations per ms): "+
				"split the work into several jobs", MaxAttemptMs, total, step.ComputeIterationsPerMs)
		}
		job.Steps = req.Payload.Steps
	}
	if len(problems) > 0 {
		return Job{}, &Error{Problems: problems}
	}
	return job, nil
}

// ParseSteps parses a stored {"steps":[...]} payload for running.
func ParseSteps(payloadJSON []byte, reg *step.Registry) ([]step.Step, error) {
	var p payload
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

func jobTypeList() string {
	var ts []string
	for t := range JobTypes {
		ts = append(ts, t)
	}
	return strings.Join(ts, ", ")
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
