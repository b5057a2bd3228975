package scheduler

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// jobState is what a transition needs to know about a locked job.
type jobState struct {
	ID            string
	JobType       string
	Payload       json.RawMessage
	MaxRetryCount int
	TraceID       string
	Status        string
	Attempts      int
	// BudgetBase is how many attempts were made before the current retry
	// budget began (a manual retry starts a new one): the job may run
	// attempts up to BudgetBase + MaxRetryCount + 1.
	BudgetBase int
	Version    int
}

// retriesLeft is how many retries the job has after its attempt n fails.
func (j jobState) retriesLeft(n int) int { return j.BudgetBase + j.MaxRetryCount + 1 - n }

// attemptOutcome is how one attempt ended: a result event or a lease
// rescue.
type attemptOutcome struct {
	Attempt   int
	Outcome   string // OutcomeCompleted, OutcomeFailed or OutcomeLeaseExpired
	ErrorCode string
	Error     string
	Permanent bool
	// DurationMs is the attempt's run time as the worker measured it; nil
	// means now() - dispatched_at (a lease rescue).
	DurationMs *int64
	EventID    string // for logs; "" for a rescue
	// ParkUntil is the wake time of an OutcomeParked attempt.
	ParkUntil time.Time
	// AwaitCallback: the park waits for a callback (callback.go).
	AwaitCallback *envelope.AwaitCallback
}

// transition is the state a job moves to.
type transition struct {
	Status string // internalapi.StatusCompleted, internalapi.StatusPending (retry) or internalapi.StatusFailed
	// DeadReason is set when the job gives up: ReasonRetriesExhausted or
	// ReasonPermanentFailure.
	DeadReason string
	// Uncharged: the attempt does not count against the retry budget (a
	// yield or a park): the job's budget base moves up by one.
	Uncharged bool
}

// decide applies an attempt's outcome to a job. It returns ok=false and
// why when the outcome does not apply: a cancelled or finished job, a
// superseded attempt, or a failure for a job no longer RUNNING.
func decide(j jobState, o attemptOutcome) (t transition, ok bool, why string) {
	switch {
	case j.Status == internalapi.StatusCancelled:
		return t, false, "job is cancelled"
	case o.Attempt != j.Attempts:
		return t, false, fmt.Sprintf("attempt %d is not the current attempt %d", o.Attempt, j.Attempts)
	}
	if o.Outcome == OutcomeCompleted {
		if j.Status != internalapi.StatusRunning && j.Status != internalapi.StatusPending {
			return t, false, "job is already " + j.Status
		}
		return transition{Status: internalapi.StatusCompleted}, true, ""
	}
	if j.Status != internalapi.StatusRunning {
		return t, false, "job is " + j.Status + ", not RUNNING"
	}
	switch o.Outcome {
	case OutcomeYielded:
		return transition{Status: internalapi.StatusPending, Uncharged: true}, true, ""
	case OutcomeParked:
		return transition{Status: internalapi.StatusWaiting, Uncharged: true}, true, ""
	}
	switch {
	case o.Permanent:
		return transition{Status: internalapi.StatusFailed, DeadReason: ReasonPermanentFailure}, true, ""
	case j.retriesLeft(j.Attempts) <= 0:
		return transition{Status: internalapi.StatusFailed, DeadReason: ReasonRetriesExhausted}, true, ""
	}
	return transition{Status: internalapi.StatusPending}, true, ""
}
