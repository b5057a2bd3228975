package scheduler

import (
	"testing"

	"github.com/jobweaver/jobweaver/shared/internalapi"
)

func TestDecide(t *testing.T) {
	job := func(status string, attempts, maxRetries int) jobState {
		return jobState{ID: "j", Status: status, Attempts: attempts, MaxRetryCount: maxRetries}
	}
	done := attemptOutcome{Outcome: OutcomeCompleted}
	failed := attemptOutcome{Outcome: OutcomeFailed}
	expired := attemptOutcome{Outcome: OutcomeLeaseExpired}
	at := func(o attemptOutcome, n int) attemptOutcome { o.Attempt = n; return o }
	// retried is a job manually retried after base attempts: a fresh budget.
	retried := func(status string, attempts, maxRetries, base int) jobState {
		j := job(status, attempts, maxRetries)
		j.BudgetBase = base
		return j
	}
	permanent := at(failed, 1)
	permanent.Permanent = true

	tests := []struct {
		name       string
		job        jobState
		outcome    attemptOutcome
		wantOK     bool
		wantStatus string
		wantDead   string
	}{
		{"success of the running attempt", job(internalapi.StatusRunning, 1, 3), at(done, 1), true, internalapi.StatusCompleted, ""},
		{"late success after a lease rescue", job(internalapi.StatusPending, 2, 3), at(done, 2), true, internalapi.StatusCompleted, ""},
		{"success of a superseded attempt", job(internalapi.StatusRunning, 3, 3), at(done, 2), false, "", ""},
		{"success of a future attempt", job(internalapi.StatusRunning, 1, 3), at(done, 2), false, "", ""},
		{"success after completion", job(internalapi.StatusCompleted, 1, 3), at(done, 1), false, "", ""},
		{"success after FAILED", job(internalapi.StatusFailed, 1, 0), at(done, 1), false, "", ""},
		{"success after cancel", job(internalapi.StatusCancelled, 1, 3), at(done, 1), false, "", ""},
		{"failure with retries left", job(internalapi.StatusRunning, 1, 2), at(failed, 1), true, internalapi.StatusPending, ""},
		{"failure using the last retry", job(internalapi.StatusRunning, 2, 2), at(failed, 2), true, internalapi.StatusPending, ""},
		{"failure with retries exhausted", job(internalapi.StatusRunning, 3, 2), at(failed, 3), true, internalapi.StatusFailed, ReasonRetriesExhausted},
		{"failure with no retries at all", job(internalapi.StatusRunning, 1, 0), at(failed, 1), true, internalapi.StatusFailed, ReasonRetriesExhausted},
		{"permanent failure skips retries", job(internalapi.StatusRunning, 1, 5), permanent, true, internalapi.StatusFailed, ReasonPermanentFailure},
		{"failure of a pending job (already rescued)", job(internalapi.StatusPending, 1, 3), at(failed, 1), false, "", ""},
		{"failure of a superseded attempt", job(internalapi.StatusRunning, 2, 3), at(failed, 1), false, "", ""},
		{"failure after cancel", job(internalapi.StatusCancelled, 1, 3), at(failed, 1), false, "", ""},
		{"lease expiry with retries left", job(internalapi.StatusRunning, 1, 1), at(expired, 1), true, internalapi.StatusPending, ""},
		{"lease expiry at budget", job(internalapi.StatusRunning, 2, 1), at(expired, 2), true, internalapi.StatusFailed, ReasonRetriesExhausted},
		{"first attempt of a fresh budget fails", retried(internalapi.StatusRunning, 3, 1, 2), at(failed, 3), true, internalapi.StatusPending, ""},
		{"fresh budget used up", retried(internalapi.StatusRunning, 4, 1, 2), at(failed, 4), true, internalapi.StatusFailed, ReasonRetriesExhausted},
		{"fresh budget of no retries", retried(internalapi.StatusRunning, 5, 0, 4), at(expired, 5), true, internalapi.StatusFailed, ReasonRetriesExhausted},
		{"fresh budget with retries left", retried(internalapi.StatusRunning, 6, 3, 4), at(failed, 6), true, internalapi.StatusPending, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, why := decide(tt.job, tt.outcome)
			if ok != tt.wantOK {
				t.Fatalf("decide ok = %v (%s), want %v", ok, why, tt.wantOK)
			}
			if !ok {
				if why == "" {
					t.Fatal("an ignored outcome must say why")
				}
				return
			}
			if got.Status != tt.wantStatus || got.DeadReason != tt.wantDead {
				t.Fatalf("decide = %+v, want status %s dead %q", got, tt.wantStatus, tt.wantDead)
			}
		})
	}
}
