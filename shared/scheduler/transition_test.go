package scheduler

import "testing"

func TestDecide(t *testing.T) {
	job := func(status string, attempts, maxRetries int) jobState {
		return jobState{ID: "j", Status: status, Attempts: attempts, MaxRetryCount: maxRetries}
	}
	done := attemptOutcome{Outcome: OutcomeCompleted}
	failed := attemptOutcome{Outcome: OutcomeFailed}
	expired := attemptOutcome{Outcome: OutcomeLeaseExpired}
	at := func(o attemptOutcome, n int) attemptOutcome { o.Attempt = n; return o }
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
		{"success of the running attempt", job(StatusRunning, 1, 3), at(done, 1), true, StatusCompleted, ""},
		{"late success after a lease rescue", job(StatusPending, 2, 3), at(done, 2), true, StatusCompleted, ""},
		{"success of a superseded attempt", job(StatusRunning, 3, 3), at(done, 2), false, "", ""},
		{"success of a future attempt", job(StatusRunning, 1, 3), at(done, 2), false, "", ""},
		{"success after completion", job(StatusCompleted, 1, 3), at(done, 1), false, "", ""},
		{"success after FAILED", job(StatusFailed, 1, 0), at(done, 1), false, "", ""},
		{"success after cancel", job(StatusCancelled, 1, 3), at(done, 1), false, "", ""},
		{"failure with retries left", job(StatusRunning, 1, 2), at(failed, 1), true, StatusPending, ""},
		{"failure using the last retry", job(StatusRunning, 2, 2), at(failed, 2), true, StatusPending, ""},
		{"failure with retries exhausted", job(StatusRunning, 3, 2), at(failed, 3), true, StatusFailed, ReasonRetriesExhausted},
		{"failure with no retries at all", job(StatusRunning, 1, 0), at(failed, 1), true, StatusFailed, ReasonRetriesExhausted},
		{"permanent failure skips retries", job(StatusRunning, 1, 5), permanent, true, StatusFailed, ReasonPermanentFailure},
		{"failure of a pending job (already rescued)", job(StatusPending, 1, 3), at(failed, 1), false, "", ""},
		{"failure of a superseded attempt", job(StatusRunning, 2, 3), at(failed, 1), false, "", ""},
		{"failure after cancel", job(StatusCancelled, 1, 3), at(failed, 1), false, "", ""},
		{"lease expiry with retries left", job(StatusRunning, 1, 1), at(expired, 1), true, StatusPending, ""},
		{"lease expiry at budget", job(StatusRunning, 2, 1), at(expired, 2), true, StatusFailed, ReasonRetriesExhausted},
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
