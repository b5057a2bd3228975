package worker

import (
	"fmt"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/step"
)

// parkForCallback ends an attempt at step k, a WAIT_FOR_CALLBACK step
// without its callback's result: the job parks (PARKED, uncharged) with
// parkUntil its timeout and awaitCallback naming the step, and the
// scheduler makes the step's one-use token. Nothing is checkpointed: the
// attempt that gets the result (the callback's body, or the timeout, in
// its run-job) runs the step, which checkpoints the body as its output.
func parkForCallback(res *envelope.AttemptResult, sr *envelope.StepResult, k int, st step.Step, wait time.Duration) {
	until := time.Now().Add(wait).UTC()
	sr.Status = StepParked
	res.ParkUntil = &until
	res.AwaitCallback = &envelope.AwaitCallback{StepIndex: k, StepID: step.ID(st)}
	res.ErrorCode = CodeParked
	res.Error = fmt.Sprintf("step %d (WAIT_FOR_CALLBACK) parks the job until its callback, or its timeout at %s",
		k, until.Format(time.RFC3339Nano))
}
