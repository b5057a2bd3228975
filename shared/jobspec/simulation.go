package jobspec

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jobweaver/jobweaver/shared/step"
)

// Simulation is SIMULATION, the original job type: payload
// {steps: [...]} of step.Default's kinds. Its outputs are not kept.
var Simulation = StepList("SIMULATION", "SimulationPayload", step.Default, false)

// StepList is a job type whose payload is {steps: [...]}, 1 to MaxSteps
// steps of reg's kinds, each within MaxStepMs (a SLEEP excepted: it
// parks), whose time budgets add up to at most MaxAttemptMs. Step IDs,
// when reg allows them, must be unique.
func StepList(name, schema string, reg *step.Registry, keepOutputs bool) Type {
	return stepList(name, schema, reg, keepOutputs, false)
}

// ResumingStepList is StepList without the total: a job of this type
// (Type.Resumes) may run longer than one worker invocation, yielding
// between steps and resuming at the first unfinished one, so only each
// step must fit an invocation (MaxStepMs).
func ResumingStepList(name, schema string, reg *step.Registry, keepOutputs bool) Type {
	return stepList(name, schema, reg, keepOutputs, true)
}

func stepList(name, schema string, reg *step.Registry, keepOutputs, resumes bool) Type {
	return Type{Name: name, Schema: schema, KeepsOutputs: keepOutputs, Resumes: resumes,
		Parse: func(payload json.RawMessage) (Plan, []string) { return parseStepList(payload, reg, resumes) }}
}

func parseStepList(raw json.RawMessage, reg *step.Registry, resumes bool) (Plan, []string) {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var p struct {
		Steps []json.RawMessage `json:"steps"`
	}
	if len(raw) == 0 || string(raw) == "null" {
		return Plan{}, []string{`payload: is required, as {"steps": [...]}`}
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return Plan{}, []string{fmt.Sprintf("payload.%s: must be %s (got %s)", ute.Field, step.JSONType(ute.Type), ute.Value)}
		}
		if errors.As(err, &ute) {
			return Plan{}, []string{fmt.Sprintf("payload: must be an object (got %s)", ute.Value)}
		}
		return Plan{}, []string{`payload: must be an object {"steps": [...]}`}
	}
	if msg := checkKeys("payload.", raw, &p); msg != "" {
		return Plan{}, []string{msg}
	}
	switch {
	case len(p.Steps) == 0:
		add("payload.steps: must hold 1 to %d steps", MaxSteps)
	case len(p.Steps) > MaxSteps:
		add("payload.steps: must hold 1 to %d steps (got %d)", MaxSteps, len(p.Steps))
	}
	if len(problems) > 0 {
		return Plan{}, problems
	}
	var total int64
	steps := make([]step.Step, 0, len(p.Steps))
	ids := map[string]int{}
	for i, raw := range p.Steps {
		s, err := reg.Parse(raw)
		if err != nil {
			problems = append(problems, fieldProblem(fmt.Sprintf("payload.steps[%d].", i), err))
			continue
		}
		if id := step.ID(s); id != "" {
			if j, dup := ids[id]; dup {
				add("payload.steps[%d].id: %q is already the id of payload.steps[%d]", i, id, j)
			}
			ids[id] = i
		}
		if _, sleep := step.SleepDuration(s); !sleep && s.Simulated() > MaxStepMs {
			add("payload.steps[%d]: its time budget is %d ms; a step may take at most %d ms (it runs within one worker invocation)",
				i, s.Simulated(), MaxStepMs)
		}
		total += s.Simulated()
		steps = append(steps, s)
	}
	if !resumes && total > MaxAttemptMs {
		add("payload.steps: the attempt time limit is %d ms; these steps' time budgets add up to %d ms "+
			"(SLEEP durationMs, HTTP_CALL latencyMs or timeoutMs (10000 by default), COMPUTE at %d iterations per ms, SCRIPT timeoutMs): "+
			"split the work into several jobs", MaxAttemptMs, total, step.ComputeIterationsPerMs)
	}
	if len(problems) > 0 {
		return Plan{}, problems
	}
	return Plan{Steps: steps, Parts: p.Steps}, nil
}
