package scheduler

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// claimRefs dispatches up to n due jobs (jobClaimDue, no broker) and
// returns their attempt references.
func (b *testBundle) claimRefs(t *testing.T, n int) []internalapi.AttemptRef {
	t.Helper()
	claimed, err := jobClaimDue(b.ctx, b.pool, n, n)
	if err != nil {
		t.Fatal(err)
	}
	refs := make([]internalapi.AttemptRef, len(claimed))
	for i, c := range claimed {
		refs[i] = internalapi.AttemptRef{JobID: c.ID, Attempt: c.Attempts, DispatchID: c.DispatchID}
	}
	return refs
}

// xactUpdates reads how many rows of jobs and of job_attempts the
// connection updated (its statistics not yet flushed: read them before
// and after, in one transaction), and how many of the latter were HOT.
type xactUpdates struct{ jobs, attempts, attemptsHOT int }

func (u xactUpdates) minus(v xactUpdates) xactUpdates {
	return xactUpdates{u.jobs - v.jobs, u.attempts - v.attempts, u.attemptsHOT - v.attemptsHOT}
}

func readXactUpdates(t *testing.T, b *testBundle, q querier) xactUpdates {
	t.Helper()
	var u xactUpdates
	if err := q.QueryRow(b.ctx, `SELECT pg_stat_get_xact_tuples_updated('jobs'::regclass),
		pg_stat_get_xact_tuples_updated('job_attempts'::regclass),
		pg_stat_get_xact_tuples_hot_updated('job_attempts'::regclass)`).Scan(&u.jobs, &u.attempts, &u.attemptsHOT); err != nil {
		t.Fatal(err)
	}
	return u
}

// A start (and a second start of the same dispatch, which renews the
// lease) writes only the attempt row, as a HOT update: the job row, with
// its dozen indexes, is not touched. The job view still shows the start
// time and the lease, from the attempt; its version and updatedAt stay.
// (HOT needs room on the row's page: n attempt rows and their new
// versions fit on one.)
func TestStartIsAHOTUpdateOfTheAttemptRowOnly(t *testing.T) {
	b := setup(t, paused)
	const n = 20
	b.insertDueJobs(t, n, 0)
	refs := b.claimRefs(t, n)
	if len(refs) != n {
		t.Fatalf("claimed %d; want %d", len(refs), n)
	}
	before := b.job(t, refs[0].JobID)

	tx := b.begin(t)
	base := readXactUpdates(t, b, tx)
	started, err := jobStartMany(b.ctx, tx, refs, time.Minute)
	if err != nil || len(started) != n {
		t.Fatalf("started %d, %v; want %d", len(started), err, n)
	}
	if u := readXactUpdates(t, b, tx).minus(base); u != (xactUpdates{jobs: 0, attempts: n, attemptsHOT: n}) {
		t.Fatalf("a start of %d attempts updated %+v; want only the %d attempt rows, all HOT", n, u, n)
	}
	if again, err := jobStartMany(b.ctx, tx, refs, time.Minute); err != nil || len(again) != n {
		t.Fatalf("started again %d, %v; want %d (a renewal)", len(again), err, n)
	}
	if u := readXactUpdates(t, b, tx).minus(base); u != (xactUpdates{jobs: 0, attempts: 2 * n, attemptsHOT: 2 * n}) {
		t.Fatalf("start and renewal updated %+v; want only attempt rows, all HOT", u)
	}
	if err := tx.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}

	after := b.job(t, refs[0].JobID)
	if after.StartedAt == nil || after.LeaseUntil == nil || !after.LeaseUntil.After(*after.StartedAt) {
		t.Fatalf("started job: startedAt %v leaseUntil %v; want both, the lease after the start", after.StartedAt, after.LeaseUntil)
	}
	if after.Version != before.Version || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("start changed the job row: version %d → %d, updatedAt %s → %s", before.Version, after.Version, before.UpdatedAt, after.UpdatedAt)
	}
	page, err := jobListPage(b.ctx, b.pool, jobListQuery{Filter: jobFilter{Status: internalapi.StatusRunning}, Limit: n})
	if err != nil || len(page.Jobs) != n {
		t.Fatalf("list: %d jobs, %v", len(page.Jobs), err)
	}
	for _, j := range page.Jobs {
		if j.StartedAt == nil || j.LeaseUntil == nil {
			t.Fatalf("listed started job %s without startedAt or leaseUntil: %+v", j.JobID, j)
		}
	}

	// The attempt's end copies its start to the job: the first start stays
	// the job's startedAt once it finishes.
	b.consume(t, b.svc, newResult(t, refs[0].JobID, refs[0].Attempt, "", false))
	done := b.job(t, refs[0].JobID)
	if done.Status != internalapi.StatusCompleted || done.StartedAt == nil || !done.StartedAt.Equal(*after.StartedAt) || done.LeaseUntil != nil {
		t.Fatalf("completed job: %+v; want COMPLETED with startedAt %s and no lease", done, after.StartedAt)
	}
	if n := b.count(t, `SELECT count(*) FROM jobs WHERE id = $1 AND started_at IS NOT NULL`, refs[0].JobID); n != 1 {
		t.Fatalf("the completed job's row has no started_at")
	}
}

// A lease set on the job row by a scheduler still running the code from
// before migration 00012 during an update (its start wrote the job's
// lease_until and started_at and the attempt's started_at) still counts:
// the job is not taken back as unstarted, its view shows the lease, and
// it is rescued once the later lease runs out.
func TestLeaseOnTheJobRowStillCounts(t *testing.T) {
	b := setup(t, func(c *Config) { paused(c); c.QueueTimeout = time.Minute })
	b.insertDueJobs(t, 2, 0)
	refs := b.claimRefs(t, 2)
	old, unstarted := refs[0].JobID, refs[1].JobID
	// What the old code's start wrote.
	b.exec(t, `UPDATE jobs SET lease_until = now() + interval '1 hour', started_at = now() WHERE id = $1`, old)
	b.exec(t, `UPDATE job_attempts SET started_at = now() WHERE job_id = $1`, old)
	b.age(t, 2*time.Minute)
	if r := b.runOnce(t, b.svc); r.Returned != 1 || r.Rescued != 0 {
		t.Fatalf("pass: %+v; want the unstarted job returned, the other left to its lease", r)
	}
	if j := b.job(t, old); j.Status != internalapi.StatusRunning || j.LeaseUntil == nil || j.StartedAt == nil {
		t.Fatalf("job started by the old code: %+v; want RUNNING with its lease and start", j)
	}
	if j := b.job(t, unstarted); j.Status != internalapi.StatusPending {
		t.Fatalf("unstarted job: %+v; want PENDING again", j)
	}
	// A start by the new code renews it on the attempt; the later lease counts.
	if got := b.start(t, refs[0]); len(got) != 1 {
		t.Fatalf("start of the old-code job refused")
	}
	b.exec(t, `UPDATE jobs SET lease_until = now() - interval '1 second' WHERE id = $1`, old)
	if r := b.runOnce(t, b.svc); r.Rescued != 0 {
		t.Fatalf("pass: %+v; want nothing rescued while the attempt's lease runs", r)
	}
	b.expire(t, old)
	if r := b.runOnce(t, b.svc); r.Rescued != 1 {
		t.Fatalf("pass: %+v; want the job rescued once both leases ran out", r)
	}
}

// startedAndExpired dispatches and starts one job and moves its lease
// into the past.
func startedAndExpired(t *testing.T) (*testBundle, []internalapi.AttemptRef) {
	t.Helper()
	b := setup(t, paused)
	b.insertDueJobs(t, 1, 0)
	refs := b.claimRefs(t, 1)
	b.start(t, refs...)
	b.expire(t, refs[0].JobID)
	return b, refs
}

// begin starts a transaction, rolled back at the test's end if still open.
func (b *testBundle) begin(t *testing.T) pgx.Tx {
	t.Helper()
	tx, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(b.ctx) })
	return tx
}

// A start renewing a lease holds the attempt row: a rescue running then
// skips the job, and after the start commits finds the lease renewed.
func TestRescueSkipsAnAttemptAStartHolds(t *testing.T) {
	b, refs := startedAndExpired(t)
	starting := b.begin(t)
	if got, err := jobStartMany(b.ctx, starting, refs, time.Minute); err != nil || len(got) != 1 {
		t.Fatalf("renewal: %v, %v", got, err)
	}
	if held, err := jobLeaseExpiredLock(b.ctx, b.beginNoWait(t), 10); err != nil || len(held) != 0 {
		t.Fatalf("rescue while a start holds the attempt: %d jobs, %v; want it skipped", len(held), err)
	}
	if err := starting.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	if r := b.runOnce(t, b.svc); r.Rescued != 0 {
		t.Fatalf("pass after the renewal: %+v; want nothing rescued", r)
	}
}

// A rescue holds the attempt row it expires: a start arriving then waits,
// and once the rescue commits, refuses the attempt: it never runs an
// attempt that was already failed as LEASE_EXPIRED.
func TestStartWaitingForARescueRefuses(t *testing.T) {
	b, refs := startedAndExpired(t)
	rescuing := b.begin(t)
	if held, err := jobLeaseExpiredLock(b.ctx, rescuing, 10); err != nil || len(held) != 1 {
		t.Fatalf("rescue: %d jobs, %v; want 1", len(held), err)
	}
	type res struct {
		started []string
		err     error
	}
	done := make(chan res, 1)
	go func() {
		got, err := jobStartMany(b.ctx, b.pool, refs, time.Minute)
		done <- res{got, err}
	}()
	testwait.Eventually(t, 10*time.Second, "the start waits for the rescue's row lock", func() bool {
		return b.count(t, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%job_attempts%'`) > 0
	})
	// What the rescue writes (outcomeBatch.write): the attempt's outcome, the job's new state.
	if _, err := rescuing.Exec(b.ctx, `UPDATE job_attempts SET outcome = 'LEASE_EXPIRED', finished_at = now() WHERE job_id = $1`, refs[0].JobID); err != nil {
		t.Fatal(err)
	}
	if _, err := rescuing.Exec(b.ctx, `UPDATE jobs SET status = 'PENDING', version = version + 1 WHERE id = $1`, refs[0].JobID); err != nil {
		t.Fatal(err)
	}
	if err := rescuing.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || len(r.started) != 0 {
		t.Fatalf("start after the rescue: %v, %v; want refused", r.started, r.err)
	}
}

// The rescue and the queue timeout read only the open attempts (through
// job_attempts_open_idx, or the RUNNING jobs), never all the attempts or
// all the jobs.
func TestRescueAndReturnReadTheOpenAttempts(t *testing.T) {
	b := setup(t, paused)
	b.exec(t, `
		WITH j AS (
		    INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts, next_run_at, created_at)
		    SELECT gen_random_uuid(), 'SIMULATION', '{"steps":[]}', 0, 'trace-bulk', 'COMPLETED', 1, now(), now()
		      FROM generate_series(1, 20000)
		    RETURNING id
		)
		INSERT INTO job_attempts (job_id, attempt, dispatched_at, started_at, finished_at, outcome)
		SELECT id, 1, now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 hour', 'COMPLETED' FROM j`)
	b.insertDueJobs(t, 200, 0)
	b.claimRefs(t, 200)
	b.exec(t, `ANALYZE jobs`)
	b.exec(t, `ANALYZE job_attempts`)
	for name, q := range map[string][]any{
		"rescue":        {leaseExpiredQuery, 100},
		"queue timeout": {unstartedQuery, float64((15 * time.Minute).Microseconds()), 100},
	} {
		rows, err := b.pool.Query(b.ctx, `EXPLAIN `+q[0].(string), q[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if plan := strings.Join(lines, "\n"); strings.Contains(plan, "Seq Scan") {
			t.Errorf("the %s scans a whole table:\n%s", name, plan)
		}
	}
}
