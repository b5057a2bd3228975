package scheduler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// TestDeriveHistory: each lifecycle, as job, attempt and manual retry
// rows record it, gives its events in order. Times are seconds after t0.
func TestDeriveHistory(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	pat := func(s int) *time.Time { v := at(s); return &v }
	// att is an attempt dispatched at d, started at d+1, finished at f.
	att := func(n, d, f int, outcome string) historyAttempt {
		a := historyAttempt{Attempt: n, DispatchedAt: at(d), StartedAt: pat(d + 1), FinishedAt: pat(f), Outcome: outcome}
		if outcome == OutcomeFailed {
			a.ErrorCode, a.Error = "WORKER.STEP_FAILED", "flaky"
		}
		if outcome == OutcomeLeaseExpired {
			a.ErrorCode, a.Error = CodeLeaseExpired, "no result"
		}
		return a
	}
	retryAt := func(a historyAttempt, s int) historyAttempt { a.RetryAt = pat(s); return a }
	dead := func(a historyAttempt, id string) historyAttempt { a.DeadLetterID = id; return a }
	job := func(status string, maxRetries int, finished *time.Time) historyJob {
		return historyJob{ID: "j", Status: status, MaxRetryCount: maxRetries, CreatedAt: at(0), FinishedAt: finished, NextRunAt: at(500)}
	}
	dispatchedOnly := historyAttempt{Attempt: 1, DispatchedAt: at(1)}
	cancelled := att(1, 1, 9, OutcomeCancelled)

	tests := []struct {
		name     string
		job      historyJob
		attempts []historyAttempt
		retries  []manualRetry
		want     []string
	}{
		{"submitted, not dispatched", job(internalapi.StatusPending, 3, nil), nil, nil,
			[]string{"SUBMITTED 0"}},
		{"dispatched, no worker yet", job(internalapi.StatusRunning, 3, nil), []historyAttempt{dispatchedOnly}, nil,
			[]string{"SUBMITTED 0", "DISPATCHED 1 a1"}},
		{"completed at once", job(internalapi.StatusCompleted, 3, pat(5)), []historyAttempt{att(1, 1, 5, OutcomeCompleted)}, nil,
			[]string{"SUBMITTED 0", "DISPATCHED 1 a1", "STARTED 2 a1", "ATTEMPT_COMPLETED 5 a1", "COMPLETED 5 a1"}},
		{"two failures, then success", job(internalapi.StatusCompleted, 3, pat(40)), []historyAttempt{
			retryAt(att(1, 1, 3, OutcomeFailed), 5), retryAt(att(2, 6, 8, OutcomeFailed), 12), att(3, 13, 40, OutcomeCompleted)}, nil,
			[]string{"SUBMITTED 0",
				"DISPATCHED 1 a1", "STARTED 2 a1", "ATTEMPT_FAILED 3 a1 msg=flaky code=WORKER.STEP_FAILED", "RETRY_SCHEDULED 3 a2 next=5",
				"DISPATCHED 6 a2", "STARTED 7 a2", "ATTEMPT_FAILED 8 a2 msg=flaky code=WORKER.STEP_FAILED", "RETRY_SCHEDULED 8 a3 next=12",
				"DISPATCHED 13 a3", "STARTED 14 a3", "ATTEMPT_COMPLETED 40 a3", "COMPLETED 40 a3"}},
		{"retries exhausted", job(internalapi.StatusFailed, 1, pat(8)), []historyAttempt{
			retryAt(att(1, 1, 3, OutcomeFailed), 5), dead(att(2, 6, 8, OutcomeLeaseExpired), "d1")}, nil,
			[]string{"SUBMITTED 0",
				"DISPATCHED 1 a1", "STARTED 2 a1", "ATTEMPT_FAILED 3 a1 msg=flaky code=WORKER.STEP_FAILED", "RETRY_SCHEDULED 3 a2 next=5",
				"DISPATCHED 6 a2", "STARTED 7 a2", "LEASE_EXPIRED 8 a2 msg=no result code=SCHEDULER.LEASE_EXPIRED",
				"FAILED 8 a2 msg=no result code=SCHEDULER.LEASE_EXPIRED",
				"DEAD_LETTERED 8 a2 msg=RETRIES_EXHAUSTED: no retries left after 2 attempts code=SCHEDULER.LEASE_EXPIRED dlq=d1"}},
		{"permanent failure with retries left", job(internalapi.StatusFailed, 5, pat(3)), []historyAttempt{
			dead(att(1, 1, 3, OutcomeFailed), "d1")}, nil,
			[]string{"SUBMITTED 0", "DISPATCHED 1 a1", "STARTED 2 a1", "ATTEMPT_FAILED 3 a1 msg=flaky code=WORKER.STEP_FAILED",
				"FAILED 3 a1 msg=flaky code=WORKER.STEP_FAILED",
				"DEAD_LETTERED 3 a1 msg=PERMANENT_FAILURE: the failure is permanent: no retry code=WORKER.STEP_FAILED dlq=d1"}},
		{"manual retry, waiting", job(internalapi.StatusPending, 0, nil), []historyAttempt{dead(att(1, 1, 3, OutcomeFailed), "d1")},
			[]manualRetry{{DLQID: "d1", By: "anonymous", AfterAttempt: 1, At: at(60)}},
			[]string{"SUBMITTED 0", "DISPATCHED 1 a1", "STARTED 2 a1", "ATTEMPT_FAILED 3 a1 msg=flaky code=WORKER.STEP_FAILED",
				"FAILED 3 a1 msg=flaky code=WORKER.STEP_FAILED",
				"DEAD_LETTERED 3 a1 msg=RETRIES_EXHAUSTED: no retries left after 1 attempt code=WORKER.STEP_FAILED dlq=d1",
				"MANUAL_RETRY 60 a2 by=anonymous dlq=d1"}},
		{"manual retry fails twice more, then a second one completes", job(internalapi.StatusCompleted, 1, pat(99)), []historyAttempt{
			retryAt(att(1, 1, 3, OutcomeFailed), 4), dead(att(2, 5, 7, OutcomeFailed), "d1"),
			retryAt(att(3, 61, 63, OutcomeFailed), 64), dead(att(4, 65, 67, OutcomeFailed), "d2"),
			att(5, 91, 99, OutcomeCompleted)},
			[]manualRetry{{DLQID: "d1", By: "ops", AfterAttempt: 2, At: at(60)}, {DLQID: "d2", By: "ops", AfterAttempt: 4, At: at(90)}},
			[]string{"SUBMITTED 0",
				"DISPATCHED 1 a1", "STARTED 2 a1", "ATTEMPT_FAILED 3 a1 msg=flaky code=WORKER.STEP_FAILED", "RETRY_SCHEDULED 3 a2 next=4",
				"DISPATCHED 5 a2", "STARTED 6 a2", "ATTEMPT_FAILED 7 a2 msg=flaky code=WORKER.STEP_FAILED",
				"FAILED 7 a2 msg=flaky code=WORKER.STEP_FAILED",
				"DEAD_LETTERED 7 a2 msg=RETRIES_EXHAUSTED: no retries left after 2 attempts code=WORKER.STEP_FAILED dlq=d1",
				"MANUAL_RETRY 60 a3 by=ops dlq=d1",
				"DISPATCHED 61 a3", "STARTED 62 a3", "ATTEMPT_FAILED 63 a3 msg=flaky code=WORKER.STEP_FAILED", "RETRY_SCHEDULED 63 a4 next=64",
				"DISPATCHED 65 a4", "STARTED 66 a4", "ATTEMPT_FAILED 67 a4 msg=flaky code=WORKER.STEP_FAILED",
				"FAILED 67 a4 msg=flaky code=WORKER.STEP_FAILED",
				"DEAD_LETTERED 67 a4 msg=RETRIES_EXHAUSTED: no retries left after 2 attempts code=WORKER.STEP_FAILED dlq=d2",
				"MANUAL_RETRY 90 a5 by=ops dlq=d2",
				"DISPATCHED 91 a5", "STARTED 92 a5", "ATTEMPT_COMPLETED 99 a5", "COMPLETED 99 a5"}},
		{"cancelled while running", job(internalapi.StatusCancelled, 3, pat(9)), []historyAttempt{cancelled}, nil,
			[]string{"SUBMITTED 0", "DISPATCHED 1 a1", "STARTED 2 a1", "CANCELLED 9 a1"}},
		{"cancelled while waiting for a retry", job(internalapi.StatusCancelled, 3, pat(9)),
			[]historyAttempt{retryAt(att(1, 1, 3, OutcomeFailed), 30)}, nil,
			[]string{"SUBMITTED 0", "DISPATCHED 1 a1", "STARTED 2 a1", "ATTEMPT_FAILED 3 a1 msg=flaky code=WORKER.STEP_FAILED",
				"RETRY_SCHEDULED 3 a2 next=30", "CANCELLED 9"}},
		{"cancelled before it ran", job(internalapi.StatusCancelled, 3, pat(2)), nil, nil,
			[]string{"SUBMITTED 0", "CANCELLED 2"}},
		{"a retry recorded before retry_at existed", job(internalapi.StatusPending, 3, nil),
			[]historyAttempt{att(1, 1, 3, OutcomeFailed)}, nil,
			[]string{"SUBMITTED 0", "DISPATCHED 1 a1", "STARTED 2 a1", "ATTEMPT_FAILED 3 a1 msg=flaky code=WORKER.STEP_FAILED",
				"RETRY_SCHEDULED 3 a2 next=500"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := deriveHistory(tt.job, tt.attempts, tt.retries)
			lines := make([]string, len(got))
			for i, e := range got {
				lines[i] = summarize(e, t0)
				if e.At.Location() != time.UTC {
					t.Errorf("event %d is not in UTC: %v", i, e.At)
				}
			}
			if strings.Join(lines, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("history:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// summarize writes an event as "TYPE seconds aN key=value...".
func summarize(e internalapi.HistoryEvent, t0 time.Time) string {
	s := fmt.Sprintf("%s %d", e.Type, int(e.At.Sub(t0).Seconds()))
	if e.Attempt != 0 {
		s += fmt.Sprintf(" a%d", e.Attempt)
	}
	for _, kv := range [][2]string{{"msg", e.Message}, {"code", e.ErrorCode}, {"by", e.By}, {"dlq", e.DLQID}} {
		if kv[1] != "" {
			s += " " + kv[0] + "=" + kv[1]
		}
	}
	if e.NextRunAt != nil {
		s += fmt.Sprintf(" next=%d", int(e.NextRunAt.Sub(t0).Seconds()))
	}
	return s
}
