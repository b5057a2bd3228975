package scheduler

import (
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// Optimistic locking: every state change is written WHERE version = the
// version read. A forced conflict (a trigger bumps the job's version
// between the read and the write, as a concurrent writer or a manual edit
// would) makes the loser roll back its whole batch: no state change, no
// attempt finished, no result marked processed, no dead letter. The
// batch fails, so the event-source mapping delivers it again, and the
// retry applies it once.
func TestVersionConflictRollsBackAndTheRetryApplies(t *testing.T) {
	for _, c := range []struct {
		name      string
		errMsg    string // "" for a completion
		status    string // after the retry
		deadLetrs int
	}{
		{"completion", "", internalapi.StatusCompleted, 0},
		{"last failure", "boom", internalapi.StatusFailed, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := setup(t, paused)
			created := newJobCreated(t, jobOpts{MaxRetries: 0})
			b.consume(t, b.svc, created)
			b.runOnce(t, b.service(t, nil)) // dispatch attempt 1
			before := b.job(t, created.JobID)
			if before.Status != internalapi.StatusRunning || before.Attempts != 1 {
				t.Fatalf("job before the result: %+v", before)
			}
			// The sneaky writer: finishing the attempt row bumps the job's
			// version inside the batch's transaction, after the lock read
			// and before the job's own update.
			b.exec(t, `CREATE FUNCTION sneak() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN UPDATE jobs SET version = version + 1 WHERE id = NEW.job_id; RETURN NEW; END $$`)
			b.exec(t, `CREATE TRIGGER sneak AFTER UPDATE ON job_attempts FOR EACH ROW EXECUTE FUNCTION sneak()`)

			result := newResult(t, created.JobID, 1, c.errMsg, false)
			err := b.svc.HandleKafka(b.ctx, kafkaEvent(result))
			if !errors.Is(err, errVersionConflict) {
				t.Fatalf("HandleKafka with a version conflict = %v; want errVersionConflict", err)
			}
			after := b.job(t, created.JobID)
			if after.Status != internalapi.StatusRunning || after.Version != before.Version || after.Attempts != 1 {
				t.Errorf("the loser changed the job: %+v, was %+v", after, before)
			}
			if n := b.count(t, `SELECT count(*) FROM job_attempts WHERE outcome IS NOT NULL`); n != 0 {
				t.Errorf("%d attempts finished by the rolled-back batch", n)
			}
			if n := b.count(t, `SELECT count(*) FROM processed_events WHERE event_id = $1::uuid`, result.EventID); n != 0 {
				t.Errorf("the rolled-back result is marked processed: its redelivery would be ignored")
			}
			if n := b.count(t, `SELECT count(*) FROM outbox`); n != 0 {
				t.Errorf("%d outbox rows left by the rolled-back batch", n)
			}

			// The mapping delivers the batch again; the conflict is gone.
			b.exec(t, `DROP TRIGGER sneak ON job_attempts`)
			b.consume(t, b.svc, result)
			b.consume(t, b.svc, result) // and once more: applied once
			final := b.job(t, created.JobID)
			if final.Status != c.status || final.Version != before.Version+1 {
				t.Errorf("after the retry: %s version %d; want %s version %d", final.Status, final.Version, c.status, before.Version+1)
			}
			b.read(t, envelope.TopicJobDeadLetter, c.deadLetrs)
		})
	}
}

// jobUpdateMany is all or nothing: one stale version among fresh ones
// fails the statement, and the caller's transaction rolls back.
func TestJobUpdateManyWithAStaleVersionFails(t *testing.T) {
	b := setup(t, paused)
	b.insertDueJobs(t, 3, 0)
	tx, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(b.ctx)
	rows, err := tx.Query(b.ctx, `SELECT `+jobStateColumns+` FROM jobs ORDER BY id FOR UPDATE`)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := pgx.CollectRows(rows, scanJobState)
	if err != nil {
		t.Fatal(err)
	}
	ups := make([]jobUpdate, len(jobs))
	for i, j := range jobs {
		ups[i] = jobUpdate{ID: j.ID, Version: j.Version, Status: internalapi.StatusCompleted}
	}
	ups[1].Version-- // read before someone else's change
	if _, err := jobUpdateMany(b.ctx, tx, ups); !errors.Is(err, errVersionConflict) {
		t.Fatalf("jobUpdateMany with a stale version = %v; want errVersionConflict", err)
	}
	if err := tx.Rollback(b.ctx); err != nil {
		t.Fatal(err)
	}
	if n := b.count(t, `SELECT count(*) FROM jobs WHERE status = 'PENDING' AND version = 0`); n != 3 {
		t.Errorf("%d of 3 jobs untouched after the rollback", n)
	}
}

// claimIDs returns the IDs of claimed jobs, sorted.
func claimIDs(cs []claimedJob) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	slices.Sort(ids)
	return ids
}

// beginNoWait starts a transaction that fails, rather than waits, on a
// row lock another transaction holds: a claim that did not skip locked
// rows would fail instead of hanging.
func (b *testBundle) beginNoWait(t *testing.T) pgx.Tx {
	t.Helper()
	tx := b.begin(t)
	if _, err := tx.Exec(b.ctx, `SET LOCAL lock_timeout = '100ms'`); err != nil {
		t.Fatal(err)
	}
	return tx
}

// SKIP LOCKED, without the dispatch lock: two transactions run the claim
// query itself at once. The second neither waits for the first nor takes
// its jobs; a third finds nothing left; and jobs whose claim rolls back
// are free again.
func TestClaimSkipsJobsAnotherTransactionHolds(t *testing.T) {
	b := setup(t, paused)
	b.insertDueJobs(t, 6, 0)
	b.insertDueJobs(t, 4, 1)
	tx1, tx2, tx3 := b.beginNoWait(t), b.beginNoWait(t), b.beginNoWait(t)

	first, err := jobClaimDue(b.ctx, tx1, 3, 1)
	if err != nil || len(first) != 4 {
		t.Fatalf("first claim: %d jobs, %v; want 4", len(first), err)
	}
	second, err := jobClaimDue(b.ctx, tx2, 10, 10)
	if err != nil {
		t.Fatalf("second claim, while the first holds its jobs: %v", err)
	}
	if len(second) != 6 {
		t.Fatalf("second claim: %d jobs; want the other 6", len(second))
	}
	for _, id := range claimIDs(second) {
		if slices.Contains(claimIDs(first), id) {
			t.Fatalf("job %s claimed by both transactions", id)
		}
	}
	if third, err := jobClaimDue(b.ctx, tx3, 10, 10); err != nil || len(third) != 0 {
		t.Fatalf("third claim: %d jobs, %v; want none left", len(third), err)
	}
	if err := tx2.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx1.Rollback(b.ctx); err != nil {
		t.Fatal(err)
	}
	again, err := jobClaimDue(b.ctx, b.pool, 10, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(claimIDs(again), claimIDs(first)) {
		t.Errorf("after the first claim rolled back, a new claim took %v; want its jobs %v", claimIDs(again), claimIDs(first))
	}
	if n := b.count(t, `SELECT count(*) FROM job_attempts`); n != 10 {
		t.Errorf("%d attempt rows; want 10, one per job", n)
	}
}

// The lease rescue locks expired jobs with SKIP LOCKED too: two rescues
// at once split them.
func TestLeaseRescueSkipsJobsAnotherTransactionHolds(t *testing.T) {
	b := setup(t, paused)
	b.insertDueJobs(t, 5, 1)
	b.exec(t, `UPDATE jobs SET status = 'RUNNING'`)
	b.exec(t, `INSERT INTO job_attempts (job_id, attempt, dispatched_at, started_at, lease_until)
		SELECT id, attempts, now() - interval '2 minutes', now() - interval '2 minutes', now() - interval '1 minute' FROM jobs`)
	tx1, tx2 := b.beginNoWait(t), b.beginNoWait(t)
	first, err := jobLeaseExpiredLock(b.ctx, tx1, 2)
	if err != nil || len(first) != 2 {
		t.Fatalf("first rescue: %d jobs, %v; want 2", len(first), err)
	}
	second, err := jobLeaseExpiredLock(b.ctx, tx2, 10)
	if err != nil || len(second) != 3 {
		t.Fatalf("second rescue, while the first holds its jobs: %d jobs, %v; want the other 3", len(second), err)
	}
	for _, j := range second {
		if j.ID == first[0].ID || j.ID == first[1].ID {
			t.Fatalf("job %s locked by both rescues", j.ID)
		}
	}
}

// The dispatch lock's role: SKIP LOCKED alone keeps two passes off the
// same job, but not under SCHEDULER_MAX_IN_FLIGHT: each would count the
// running jobs before the other's claim commits. A pass therefore takes
// a transaction advisory lock first; while another holds it, the pass
// waits, and then counts what the other claimed.
func TestDispatchLockKeepsConcurrentPassesUnderTheCap(t *testing.T) {
	b := setup(t, func(c *Config) { c.MaxInFlight, c.BatchSize = 3, 3 })
	b.insertDueJobs(t, 10, 0)

	// Another pass: it holds the lock and claims up to the cap.
	other, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(b.ctx)
	if _, err := other.Exec(b.ctx, `SELECT pg_advisory_xact_lock($1)`, dispatchLockKey); err != nil {
		t.Fatal(err)
	}
	if c, err := jobClaimDue(b.ctx, other, 3, 0); err != nil || len(c) != 3 {
		t.Fatalf("the other pass claims %d, %v", len(c), err)
	}

	type result struct {
		fresh int
		err   error
	}
	done := make(chan result, 1)
	go func() {
		fresh, _, _, err := b.svc.dispatch(b.ctx)
		done <- result{fresh, err}
	}()
	// The signal that it waits: its backend waits for the advisory lock.
	testwait.Eventually(t, readTimeout, "the pass waits for the dispatch lock", func() bool {
		return b.count(t, `SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND (classid::bigint << 32 | objid::bigint) = $1`, dispatchLockKey) > 0
	})
	if err := other.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.fresh != 0 {
		t.Errorf("the waiting pass claimed %d jobs past the cap of 3 the other pass had filled", r.fresh)
	}
	if n := b.count(t, `SELECT count(*) FROM jobs WHERE status = 'RUNNING'`); n != 3 {
		t.Errorf("%d jobs running; want the cap of 3", n)
	}
}
