package envelope

import "encoding/json"

// MaxCallbackBytes caps the body of a callback (POST
// /api/jobs/{id}/callbacks/{token}) in bytes on the wire. The api keeps
// it as compact JSON, which is never longer, and every event carries it
// unescaped (see [JSON]), so a run-job grows by at most CallbackBytes.
const MaxCallbackBytes = 64 << 10

// CallbackBytes bounds what a run-job's callback member adds to the
// event: the body and its keys, step index and flag.
const CallbackBytes = MaxCallbackBytes + 128

// CallbackResult is what came of a WAIT_FOR_CALLBACK step's wait: the
// callback's body, or TimedOut. The scheduler puts it in every run-job of
// the job from the callback (or the timeout) on, until the job parks for
// another callback; the worker makes Body the step's output.
type CallbackResult struct {
	StepIndex int             `json:"stepIndex"`
	Body      json.RawMessage `json:"body,omitempty"`
	TimedOut  bool            `json:"timedOut,omitempty"`
}

// AwaitCallback marks a parked attempt whose WAIT_FOR_CALLBACK step
// (StepIndex, StepID) waits for a callback until the result's ParkUntil:
// the scheduler makes a one-use token for it.
type AwaitCallback struct {
	StepIndex int    `json:"stepIndex"`
	StepID    string `json:"stepId,omitempty"`
}
