package scheduler

import (
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
)

func TestRedriveResendsRunningJobsWithoutChargingAnAttempt(t *testing.T) {
	b := setup(t, nil)
	// Three jobs dispatched (RUNNING, attempt 1), one of them finished.
	var ids []string
	for range 3 {
		created := newJobCreated(t, jobOpts{MaxRetries: 0})
		b.consume(t, b.svc, created)
		ids = append(ids, created.JobID)
	}
	b.consume(t, b.svc, newResult(t, ids[2], 1, "", false))
	// And one waiting to be dispatched.
	pending := newJobCreated(t, jobOpts{})
	b.consume(t, b.service(t, paused), pending)
	original := map[string]envelope.RunJob{}
	seen := map[string]bool{} // event IDs read so far
	for _, e := range b.read(t, envelope.TopicRunJob, 3) {
		original[e.JobID] = decodePayload[envelope.RunJob](t, e)
		seen[e.EventID] = true
	}
	// fresh returns the records of recs not read before.
	fresh := func(recs []envelope.Envelope) []envelope.Envelope {
		var out []envelope.Envelope
		for _, e := range recs {
			if !seen[e.EventID] {
				out = append(out, e)
			}
		}
		return out
	}
	b.exec(t, `UPDATE jobs SET lease_until = now() + interval '1 second' WHERE status = 'RUNNING'`)

	n, err := b.svc.Redrive(b.ctx)
	if err != nil || n != 2 {
		t.Fatalf("Redrive = %d, %v; want the 2 RUNNING jobs", n, err)
	}
	for _, id := range ids[:2] {
		j := b.job(t, id)
		if j.Status != StatusRunning || j.Attempts != 1 || j.LeaseUntil == nil || time.Until(*j.LeaseUntil) < time.Minute {
			t.Fatalf("re-driven job = %+v; want RUNNING at attempt 1 with a fresh lease", j)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM job_attempts WHERE outcome IS NULL`); n != 2 {
		t.Fatalf("%d open attempts; want the 2 re-driven ones, still open", n)
	}
	if n := b.count(t, `SELECT count(*) FROM job_attempts`); n != 3 {
		t.Fatalf("%d attempt rows; want 3 (no attempt charged)", n)
	}
	if j := b.job(t, pending.JobID); j.Status != StatusPending || j.Attempts != 0 {
		t.Fatalf("pending job = %+v", j)
	}

	// The run-jobs go out through the outbox: the same attempt, the same
	// dispatch time, an event ID derived from them.
	if _, err := b.deps.Relay.Drain(b.ctx); err != nil {
		t.Fatal(err)
	}
	redriven := fresh(b.read(t, envelope.TopicRunJob, 5))
	if len(redriven) != 2 {
		t.Fatalf("%d new run-jobs; want 2", len(redriven))
	}
	firstIDs := map[string]string{}
	for _, e := range redriven {
		rj := decodePayload[envelope.RunJob](t, e)
		orig, ok := original[e.JobID]
		if !ok || e.JobID == ids[2] || rj.Attempt != 1 || !rj.DispatchedAt.Equal(orig.DispatchedAt) || !rj.LeaseUntil.After(orig.LeaseUntil) ||
			string(rj.Payload) != string(orig.Payload) || e.EventID != RedriveEventID(e.JobID, 1, orig.DispatchedAt) {
			t.Fatalf("re-driven run-job %+v %+v; original %+v", e, rj, orig)
		}
		firstIDs[e.JobID] = e.EventID
	}

	// A second Redrive of the same attempts makes the same event IDs, so
	// a worker that finished the first skips it.
	if n, err := b.svc.Redrive(b.ctx); err != nil || n != 2 {
		t.Fatalf("second Redrive = %d, %v", n, err)
	}
	if _, err := b.deps.Relay.Drain(b.ctx); err != nil {
		t.Fatal(err)
	}
	// Seven records, and no event ID beyond the first re-drive's.
	for id := range firstIDs {
		seen[firstIDs[id]] = true
	}
	if again := fresh(b.read(t, envelope.TopicRunJob, 7)); len(again) != 0 {
		t.Fatalf("the second re-drive made new event IDs: %+v; want those of the first, %v", again, firstIDs)
	}

	// The worker's result for attempt 1 completes the job: one attempt.
	b.consume(t, b.svc, newResult(t, ids[0], 1, "", false))
	if j := b.job(t, ids[0]); j.Status != StatusCompleted || j.Attempts != 1 {
		t.Fatalf("after the result: %+v", j)
	}
}

func TestRedriveTakesEveryRunningJobInChunks(t *testing.T) {
	b := setup(t, nil)
	const n = redriveChunk*2 + 3
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
	if c := b.count(t, `SELECT count(*) FROM outbox WHERE topic = $1`, envelope.TopicRunJob); c != n {
		t.Fatalf("%d run-jobs in the outbox; want %d", c, n)
	}
	if c := b.count(t, `SELECT count(*) FROM jobs WHERE status = 'RUNNING' AND attempts = 2`); c != n {
		t.Fatalf("%d jobs still RUNNING at attempt 2; want %d", c, n)
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
		again := map[string]string{}
		for _, e := range b.read(t, envelope.TopicJobDeadLetter, 4+2*round) {
			if seen[e.EventID] {
				continue
			}
			again[e.JobID] = e.EventID
			got, want := decodePayload[envelope.JobDeadLetter](t, e), original[e.JobID]
			if got.Reason != want.Reason || got.ErrorCode != want.ErrorCode || got.LastError != want.LastError ||
				len(got.Attempts) != len(want.Attempts) || got.Attempts[0].Outcome != want.Attempts[0].Outcome ||
				!got.FailedAt.Equal(want.FailedAt) || string(got.Payload) != string(want.Payload) {
				t.Fatalf("dead letter sent again = %+v; want it as the original %+v", got, want)
			}
		}
		// The second round's event IDs are the first's: the dlq stores
		// each dead letter once.
		if len(again) != 2 && round == 0 {
			t.Fatalf("new dead letters = %v; want 2", again)
		}
		if round == 1 && len(again) != 0 {
			t.Fatalf("the second round made new event IDs: %v", again)
		}
		for _, id := range again {
			seen[id] = true
		}
	}
	if original[exhausted.JobID].Reason != ReasonRetriesExhausted || original[permanent.JobID].Reason != ReasonPermanentFailure {
		t.Fatalf("original reasons = %+v", original)
	}
}
