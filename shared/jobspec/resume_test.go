package jobspec_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/jobspec"
	"github.com/jobweaver/jobweaver/shared/step"
)

// slowStep is a step kind whose time budget is its "ms" field: a kind
// longer than any built-in one.
type slowStep struct{ ms int64 }

func (s slowStep) Action() string                      { return "SLOW" }
func (s slowStep) Run(context.Context, step.Env) error { return nil }
func (s slowStep) Simulated() int64                    { return s.ms }
func parseSlow(raw json.RawMessage) (step.Step, error) {
	var v struct {
		Action string `json:"action"`
		Ms     int64  `json:"ms"`
	}
	err := json.Unmarshal(raw, &v)
	return slowStep{v.Ms}, err
}

// A job type that resumes (DATA_PIPELINE) is not held to the attempt
// limit, only each step to MaxStepMs; SIMULATION and WEBHOOK keep the
// attempt limit.
func TestResumingTypesCapEachStepNotTheAttempt(t *testing.T) {
	t.Parallel()
	if !jobspec.DataPipeline.Resumes || !jobspec.BatchProcess.Resumes || jobspec.Simulation.Resumes || jobspec.Webhook.Resumes {
		t.Fatalf("Resumes: DATA_PIPELINE %v, SIMULATION %v, WEBHOOK %v; want true, false, false",
			jobspec.DataPipeline.Resumes, jobspec.Simulation.Resumes, jobspec.Webhook.Resumes)
	}
	longest := `{"action":"HTTP_CALL","latencyMs":60000}` // jobspec.MaxStepMs, the longest step kind
	if jobspec.MaxStepMs != step.MaxLatencyMs {
		t.Fatalf("MaxStepMs %d is not HTTP_CALL's latency cap %d, the longest step kind's", jobspec.MaxStepMs, step.MaxLatencyMs)
	}
	// At its maximum: 100 steps of 60 s (6,000 s, ten times the attempt
	// limit), and 100 SLEEPs of 7 days.
	job, err := jobspec.Decode([]byte(pipeline(nSteps(jobspec.MaxSteps, longest))), jobspec.Default)
	if err != nil || len(job.Steps) != jobspec.MaxSteps {
		t.Fatalf("DATA_PIPELINE of %d steps of 60 s: %v", jobspec.MaxSteps, err)
	}
	week := `{"action":"SLEEP","durationMs":604800000}`
	if _, err := jobspec.Decode([]byte(pipeline(nSteps(jobspec.MaxSteps, week))), jobspec.Default); err != nil {
		t.Fatalf("DATA_PIPELINE of %d SLEEPs of 7 days: %v", jobspec.MaxSteps, err)
	}
	// SIMULATION keeps the original contract.
	_, err = jobspec.Decode([]byte(submit(nSteps(11, longest), "")), jobspec.Default)
	if err == nil || !strings.Contains(err.Error(), "the attempt time limit is 600000 ms; these steps' time budgets add up to 660000 ms") {
		t.Fatalf("SIMULATION of 11 steps of 60 s: %v; want the attempt limit", err)
	}
	if _, err := jobspec.Decode([]byte(submit(nSteps(10, longest), "")), jobspec.Default); err != nil {
		t.Fatalf("SIMULATION of 10 steps of 60 s (at the limit): %v", err)
	}

	// A step kind longer than MaxStepMs is refused in both, naming it.
	slow := step.Default.WithIDs(map[string]step.Parser{"SLOW": parseSlow})
	reg := jobspec.NewRegistry()
	reg.Register(jobspec.ResumingStepList("DATA_PIPELINE", "DataPipelinePayload", slow, true))
	reg.Register(jobspec.StepList("SIMULATION", "SimulationPayload", slow, false))
	for _, typ := range []string{"DATA_PIPELINE", "SIMULATION"} {
		at := `{"jobType":"` + typ + `","payload":{"steps":[{"action":"LOG","message":"x"},{"action":"SLOW","ms":60000}]}}`
		if _, err := jobspec.Decode([]byte(at), reg); err != nil {
			t.Errorf("%s with a step of 60000 ms: %v", typ, err)
		}
		over := `{"jobType":"` + typ + `","payload":{"steps":[{"action":"LOG","message":"x"},{"action":"SLOW","ms":60001}]}}`
		_, err := jobspec.Decode([]byte(over), reg)
		if err == nil || !strings.Contains(err.Error(), "payload.steps[1]: its time budget is 60001 ms; a step may take at most 60000 ms") {
			t.Errorf("%s with a step of 60001 ms: %v; want the step cap", typ, err)
		}
	}
}
