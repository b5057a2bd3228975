package internalapi

// MaxAttemptRefs is how many attempts one start or release call may name.
const MaxAttemptRefs = 10_000

// AttemptRef names one dispatched attempt by the run-job record that
// carries it.
type AttemptRef struct {
	JobID      string `json:"jobId"`
	Attempt    int    `json:"attempt"`
	DispatchID string `json:"dispatchId"` // the run-job event ID
}

// AttemptsRequest is the body of PathAttemptsStart and
// PathAttemptsRelease.
type AttemptsRequest struct {
	Attempts []AttemptRef `json:"attempts"`
}

// StartResponse lists the attempts that may run, by dispatch ID, and the
// lease each got. An attempt not listed is superseded, cancelled or
// finished: its record must not run.
type StartResponse struct {
	Started []string `json:"started"`
	LeaseMs int64    `json:"leaseMs"`
}

// ReleaseResponse lists the attempts taken back, by dispatch ID.
type ReleaseResponse struct {
	Released []string `json:"released"`
}
