package scheduler

import (
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// expire moves the lease of a job's current attempt into the past.
func (b *testBundle) expire(t *testing.T, id string) {
	t.Helper()
	b.exec(t, `UPDATE job_attempts a SET lease_until = now() - interval '1 second'
		  FROM jobs j WHERE j.id = $1 AND a.job_id = j.id AND a.attempt = j.attempts`, id)
}

func TestExpiredLeaseIsRetriedThenFailed(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{MaxRetries: 1})
	id := created.JobID
	b.consume(t, b.svc, created)
	if r := b.runOnce(t, b.svc); r.Rescued != 0 {
		t.Fatalf("rescued a live lease: %+v", r)
	}

	b.expire(t, id)
	paused := b.service(t, paused)
	if r := b.runOnce(t, paused); r.Rescued != 1 {
		t.Fatalf("pass = %+v, want 1 rescued", r)
	}
	j := b.job(t, id)
	if j.Status != internalapi.StatusPending || j.Attempts != 1 || j.LastErrorCode != CodeLeaseExpired || j.LeaseUntil != nil {
		t.Fatalf("after rescue: %+v", j)
	}
	if n := b.count(t, `SELECT count(*) FROM job_attempts WHERE job_id = $1 AND attempt = 1
		AND outcome = 'LEASE_EXPIRED' AND error_code = $2 AND finished_at IS NOT NULL AND duration_ms >= 0`, id, CodeLeaseExpired); n != 1 {
		t.Fatalf("rescued attempt rows = %d", n)
	}

	for b.job(t, id).Status == internalapi.StatusPending { // wait out the backoff
		b.runOnce(t, b.svc)
	}
	if j := b.job(t, id); j.Status != internalapi.StatusRunning || j.Attempts != 2 {
		t.Fatalf("retry: %+v", j)
	}
	b.expire(t, id)
	if r := b.runOnce(t, b.svc); r.Rescued != 1 {
		t.Fatalf("pass = %+v", r)
	}
	if j := b.job(t, id); j.Status != internalapi.StatusFailed || j.FinishedAt == nil {
		t.Fatalf("at budget: %+v", j)
	}
	dl := decodePayload[envelope.JobDeadLetter](t, b.read(t, envelope.TopicJobDeadLetter, 1)[0])
	if dl.Reason != ReasonRetriesExhausted || dl.ErrorCode != CodeLeaseExpired || len(dl.Attempts) != 2 ||
		dl.Attempts[0].Outcome != OutcomeLeaseExpired || dl.Attempts[1].Outcome != OutcomeLeaseExpired {
		t.Fatalf("dead letter = %+v", dl)
	}
	b.read(t, envelope.TopicRunJob, 2)
}

func TestLateSuccessAfterRescueCompletesTheJob(t *testing.T) {
	b := setup(t, func(c *Config) { c.BackoffBase, c.BackoffCap = time.Hour, time.Hour })
	created := newJobCreated(t, jobOpts{MaxRetries: 3})
	b.consume(t, b.svc, created)
	b.expire(t, created.JobID)
	b.runOnce(t, b.svc)
	if j := b.job(t, created.JobID); j.Status != internalapi.StatusPending {
		t.Fatalf("after rescue: %+v", j)
	}
	// The worker was slow, not dead: its success still counts...
	b.consume(t, b.svc, newResult(t, created.JobID, 1, "", false))
	if j := b.job(t, created.JobID); j.Status != internalapi.StatusCompleted || j.Attempts != 1 {
		t.Fatalf("after late success: %+v", j)
	}
	if n := b.count(t, `SELECT count(*) FROM job_attempts WHERE job_id = $1 AND outcome = 'COMPLETED'`, created.JobID); n != 1 {
		t.Fatalf("attempt not marked completed")
	}
	// ...but a late failure of a rescued attempt does not use a retry.
	other := newJobCreated(t, jobOpts{MaxRetries: 3})
	b.consume(t, b.svc, other)
	b.expire(t, other.JobID)
	b.runOnce(t, b.svc)
	v := b.job(t, other.JobID).Version
	b.consume(t, b.svc, newResult(t, other.JobID, 1, "late", false))
	if j := b.job(t, other.JobID); j.Status != internalapi.StatusPending || j.Version != v || j.LastErrorCode != CodeLeaseExpired {
		t.Fatalf("after late failure: %+v", j)
	}
}
