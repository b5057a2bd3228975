package scheduler

import (
	"testing"

	"github.com/jobweaver/jobweaver/shared/envelope"
)

// Redrive takes every RUNNING job, however many, each with a new dispatch.
func TestRedriveTakesEveryRunningJob(t *testing.T) {
	b := setup(t, nil)
	const n = 1003
	b.exec(t, `
		WITH j AS (
		    INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts, next_run_at, lease_until, created_at, started_at)
		    SELECT gen_random_uuid(), 'SIMULATION', '{"steps":[{"action":"LOG"}]}', 5, 'trace-bulk', 'RUNNING', 2,
		           now(), now() + interval '1 minute', now(), now()
		      FROM generate_series(1, $1)
		    RETURNING id
		)
		INSERT INTO job_attempts (job_id, attempt, dispatched_at) SELECT id, 2, now() FROM j`, n)
	got, err := b.svc.Redrive(b.ctx)
	if err != nil || got != n {
		t.Fatalf("Redrive = %d, %v; want %d", got, err, n)
	}
	if recs := b.read(t, envelope.TopicRunJob, n); len(recs) != n {
		t.Fatalf("%d run-jobs published; want %d", len(recs), n)
	}
	if c := b.count(t, `SELECT count(*) FROM jobs WHERE status = 'RUNNING' AND attempts = 2 AND dispatch_id IS NOT NULL`); c != n {
		t.Fatalf("%d jobs RUNNING at attempt 2 with a new dispatch; want %d", c, n)
	}
}

func TestRecordBrokerAndInFlight(t *testing.T) {
	b := setup(t, nil)
	if id, err := b.svc.Broker(b.ctx); err != nil || id != "" {
		t.Fatalf("Broker on a new database = %q, %v; want none", id, err)
	}
	for _, id := range []string{"cluster-a", "cluster-b"} {
		if err := b.svc.RecordBroker(b.ctx, id); err != nil {
			t.Fatal(err)
		}
		if got, err := b.svc.Broker(b.ctx); err != nil || got != id {
			t.Fatalf("Broker = %q, %v; want %q", got, err, id)
		}
	}
	if c := b.count(t, `SELECT count(*) FROM broker_identity`); c != 1 {
		t.Fatalf("%d broker rows; want 1", c)
	}

	b.consume(t, b.svc, newJobCreated(t, jobOpts{}))                // RUNNING, relayed
	b.consume(t, b.service(t, paused), newJobCreated(t, jobOpts{})) // PENDING
	b.exec(t, `INSERT INTO outbox (topic, value) VALUES ('run-job', '{}')`)
	running, unsent, err := b.svc.InFlight(b.ctx)
	if err != nil || running != 1 || unsent != 1 {
		t.Fatalf("InFlight = %d running, %d unsent, %v; want 1, 1", running, unsent, err)
	}
}

func TestDeadLetterAgainRebuildsTheLostDeadLetter(t *testing.T) {
	b := setup(t, nil)
	exhausted := newJobCreated(t, jobOpts{MaxRetries: 0})
	b.consume(t, b.svc, exhausted)
	b.consume(t, b.svc, newResult(t, exhausted.JobID, 1, "boom", false))
	permanent := newJobCreated(t, jobOpts{MaxRetries: 3})
	b.consume(t, b.svc, permanent)
	b.consume(t, b.svc, newResult(t, permanent.JobID, 1, "bad spec", true))
	running := newJobCreated(t, jobOpts{})
	b.consume(t, b.svc, running)
	original := map[string]envelope.JobDeadLetter{}
	seen := map[string]bool{}
	for _, e := range b.read(t, envelope.TopicJobDeadLetter, 2) {
		original[e.JobID] = decodePayload[envelope.JobDeadLetter](t, e)
		seen[e.EventID] = true
	}

	failed, err := b.svc.FailedJobs(b.ctx, "", 10)
	if err != nil || len(failed) != 2 {
		t.Fatalf("FailedJobs = %v, %v; want the 2 FAILED jobs", failed, err)
	}
	if rest, err := b.svc.FailedJobs(b.ctx, failed[0], 10); err != nil || len(rest) != 1 || rest[0] != failed[1] {
		t.Fatalf("FailedJobs after %s = %v, %v", failed[0], rest, err)
	}
	ids := []string{exhausted.JobID, permanent.JobID, running.JobID, "6b0e8d1c-0000-4000-8000-000000000000"}
	for round := range 2 {
		n, err := b.svc.DeadLetterAgain(b.ctx, ids)
		if err != nil || n != 2 {
			t.Fatalf("DeadLetterAgain = %d, %v; want the 2 FAILED jobs only", n, err)
		}
		if _, err := b.deps.Relay.Drain(b.ctx); err != nil {
			t.Fatal(err)
		}
		// Each is the original under its original event ID (recorded on
		// the last attempt): the dlq stores each dead letter once.
		for _, e := range b.read(t, envelope.TopicJobDeadLetter, 4+2*round) {
			if !seen[e.EventID] {
				t.Fatalf("round %d: dead letter of %s sent again under a new event ID %s", round, e.JobID, e.EventID)
			}
			got, want := decodePayload[envelope.JobDeadLetter](t, e), original[e.JobID]
			if got.Reason != want.Reason || got.ErrorCode != want.ErrorCode || got.LastError != want.LastError ||
				len(got.Attempts) != len(want.Attempts) || got.Attempts[0].Outcome != want.Attempts[0].Outcome ||
				!got.FailedAt.Equal(want.FailedAt) || string(got.Payload) != string(want.Payload) {
				t.Fatalf("dead letter sent again = %+v; want it as the original %+v", got, want)
			}
		}
	}
	// A job dead-lettered before its attempt recorded the event ID gets
	// one derived from its ID, the same each time.
	b.exec(t, `UPDATE job_attempts SET dead_letter_id = NULL`)
	derived := map[string]bool{}
	for round := range 2 {
		if n, err := b.svc.DeadLetterAgain(b.ctx, ids); err != nil || n != 2 {
			t.Fatalf("DeadLetterAgain = %d, %v", n, err)
		}
		if _, err := b.deps.Relay.Drain(b.ctx); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.read(t, envelope.TopicJobDeadLetter, 8+2*round) {
			if !seen[e.EventID] {
				derived[e.EventID] = true
			}
		}
		if len(derived) != 2 {
			t.Fatalf("round %d: derived event IDs %v; want 2, the same each round", round, derived)
		}
	}
	if original[exhausted.JobID].Reason != ReasonRetriesExhausted || original[permanent.JobID].Reason != ReasonPermanentFailure {
		t.Fatalf("original reasons = %+v", original)
	}
}
