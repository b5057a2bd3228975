package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// querier is what the queries need: a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// errJobNotFound is returned by the single-job queries.
var errJobNotFound = errors.New("scheduler: job not found")

// errVersionConflict means a job changed between being read and written.
// Jobs are locked before they change, so it signals a bug or manual edit;
// the transaction rolls back and the batch is retried.
var errVersionConflict = errors.New("scheduler: job version changed concurrently")

// newJob is a job-created event to ingest.
type newJob struct {
	ID            string
	JobType       string
	Payload       []byte
	MaxRetryCount int
	TraceID       string
	CreatedAt     *time.Time // nil: now()
	CreatedBy     string     // "": anonymous
}

// newJobArrays are jobs as the ingest statements' unnest arrays $1..$7:
// IDs, types, payloads, max retry counts, trace IDs, creation times and
// creators.
func newJobArrays(jobs []newJob) []any {
	n := len(jobs)
	ids, types, payloads, traces := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	retries, created, by := make([]int32, n), make([]*time.Time, n), make([]string, n)
	for i, j := range jobs {
		ids[i], types[i], payloads[i], traces[i] = j.ID, j.JobType, string(j.Payload), j.TraceID
		retries[i], created[i], by[i] = int32(j.MaxRetryCount), j.CreatedAt, callerOrAnonymous(j.CreatedBy)
	}
	return []any{ids, types, payloads, retries, traces, created, by}
}

// jobInsertMany ingests jobs as PENDING and due now, skipping IDs that
// already exist, and returns how many it inserted.
func jobInsertMany(ctx context.Context, q querier, jobs []newJob) (int64, error) {
	if len(jobs) == 0 {
		return 0, nil
	}
	tag, err := q.Exec(ctx, `
		INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts, next_run_at, created_at, created_by)
		SELECT u.id::uuid, u.job_type, u.payload::jsonb, u.max_retry_count, u.trace_id,
		       'PENDING', 0, now(), coalesce(u.created_at, now()), u.created_by
		  FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::timestamptz[], $7::text[])
		       AS u(id, job_type, payload, max_retry_count, trace_id, created_at, created_by)
		 ORDER BY u.id
		ON CONFLICT (id) DO NOTHING`,
		newJobArrays(jobs)...)
	if err != nil {
		return 0, fmt.Errorf("scheduler: insert %d jobs: %w", len(jobs), err)
	}
	return tag.RowsAffected(), nil
}

// jobIngestDispatched ingests jobs like jobInsertMany, except that the
// first run of them (in ID order) not yet in the table are inserted
// RUNNING at once, as jobClaimDue would leave them claimed from PENDING:
// attempt 1 with its job_attempts row, a new dispatch ID, dispatched
// now, version 1. The caller holds the dispatch lock and has seen no
// job due and room for run more RUNNING. It returns those dispatched, in
// ID order, and how many it inserted PENDING.
func jobIngestDispatched(ctx context.Context, q querier, jobs []newJob, run int) ([]claimedJob, int, error) {
	if len(jobs) == 0 {
		return nil, 0, nil
	}
	// A job that exists (a redelivery, a cancel before the job arrived)
	// is not inserted at all, so it takes no slot and its row, which a
	// result may be updating, is not waited for; one inserted
	// concurrently (a cancel, or an ingest that found a job due) takes a
	// slot and is skipped by ON CONFLICT.
	rows, err := q.Query(ctx, `
		WITH u AS (
		    SELECT u.*, row_number() OVER (ORDER BY u.id) <= $8 AS run
		      FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::timestamptz[], $7::text[])
		           AS u(id, job_type, payload, max_retry_count, trace_id, created_at, created_by)
		     WHERE NOT EXISTS (SELECT 1 FROM jobs e WHERE e.id = u.id::uuid)
		), ingested AS (
		    INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts, next_run_at,
		                      created_at, created_by, dispatch_id, dispatched_at, version)
		    SELECT u.id::uuid, u.job_type, u.payload::jsonb, u.max_retry_count, u.trace_id,
		           CASE WHEN u.run THEN 'RUNNING' ELSE 'PENDING' END, CASE WHEN u.run THEN 1 ELSE 0 END,
		           now(), coalesce(u.created_at, now()), u.created_by,
		           CASE WHEN u.run THEN gen_random_uuid() END, CASE WHEN u.run THEN now() END,
		           CASE WHEN u.run THEN 1 ELSE 0 END
		      FROM u
		     ORDER BY u.id
		    ON CONFLICT (id) DO NOTHING
		 RETURNING id, job_type, payload, max_retry_count, trace_id, status, attempts, version, dispatch_id,
		           next_run_at, created_at
		), attempt AS (
		    INSERT INTO job_attempts (job_id, attempt, dispatched_at, dispatch_id)
		    SELECT id, attempts, now(), dispatch_id FROM ingested WHERE status = 'RUNNING'
		)
		SELECT id::text, job_type, CASE WHEN status = 'RUNNING' THEN payload END, max_retry_count, trace_id,
		       status, attempts, version, dispatch_id::text, now(), next_run_at, created_at
		  FROM ingested ORDER BY id`,
		append(newJobArrays(jobs), run)...)
	if err != nil {
		return nil, 0, fmt.Errorf("scheduler: ingest %d jobs: %w", len(jobs), err)
	}
	var (
		out     []claimedJob
		pending int
	)
	for rows.Next() {
		var (
			c  claimedJob
			id *string
		)
		if err := rows.Scan(&c.ID, &c.JobType, &c.Payload, &c.MaxRetryCount, &c.TraceID, &c.Status,
			&c.Attempts, &c.Version, &id, &c.DispatchedAt, &c.NextRunAt, &c.CreatedAt); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("scheduler: ingest %d jobs: %w", len(jobs), err)
		}
		if id == nil {
			pending++
			continue
		}
		c.DispatchID = *id
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("scheduler: ingest %d jobs: %w", len(jobs), err)
	}
	return out, pending, nil
}

const jobStateColumns = `id::text, job_type, payload, max_retry_count, trace_id, status, attempts, version, budget_base`

func scanJobState(row pgx.CollectableRow) (jobState, error) {
	var j jobState
	err := row.Scan(&j.ID, &j.JobType, &j.Payload, &j.MaxRetryCount, &j.TraceID, &j.Status, &j.Attempts, &j.Version, &j.BudgetBase)
	return j, err
}

// jobLockMany locks the jobs with the given IDs, in ID order so that
// concurrent batches cannot deadlock, and returns those that exist.
func jobLockMany(ctx context.Context, q querier, ids []string) (map[string]*jobState, error) {
	rows, err := q.Query(ctx, `SELECT `+jobStateColumns+` FROM jobs
		WHERE id = ANY($1::text[]::uuid[]) ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("scheduler: lock jobs: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanJobState)
	if err != nil {
		return nil, fmt.Errorf("scheduler: lock jobs: %w", err)
	}
	out := make(map[string]*jobState, len(list))
	for i := range list {
		out[list[i].ID] = &list[i]
	}
	return out, nil
}

// currentAttemptStart and currentAttemptLease are the start time and
// lease of the current attempt of the job row j (aliased j), as scalar
// subqueries: a start writes them to the attempt row only.
const (
	currentAttemptStart = `(SELECT ca.started_at FROM job_attempts ca WHERE ca.job_id = j.id AND ca.attempt = j.attempts)`
	currentAttemptLease = `(SELECT ca.lease_until FROM job_attempts ca WHERE ca.job_id = j.id AND ca.attempt = j.attempts)`
)

// leaseExpiredQuery is jobLeaseExpiredLock's statement ($1: the limit).
// The candidates come from the open attempt rows alone (a few recent
// pages, through job_attempts_open_idx): those whose lease ran out, and
// those started with no lease on the attempt (by the code before
// migration 00012, whose lease is on the job; or re-driven). Only they
// are looked up in jobs, by ID, and checked and locked.
const leaseExpiredQuery = `
	SELECT j.id::text, j.job_type, j.payload, j.max_retry_count, j.trace_id, j.status, j.attempts,
	       j.version, j.budget_base
	  FROM jobs j
	  JOIN job_attempts a ON a.job_id = j.id AND a.attempt = j.attempts
	 WHERE j.id = ANY(ARRAY(SELECT c.job_id FROM job_attempts c WHERE c.outcome IS NULL
	                          AND (c.lease_until < now() OR (c.lease_until IS NULL AND c.started_at IS NOT NULL))))
	   AND a.outcome IS NULL AND j.status = 'RUNNING'
	   AND greatest(a.lease_until, j.lease_until) < now()
	 ORDER BY greatest(a.lease_until, j.lease_until) LIMIT $1
	   FOR UPDATE OF j, a SKIP LOCKED`

// jobLeaseExpiredLock locks up to limit RUNNING jobs whose current
// attempt's lease has run out, oldest first, with that attempt row,
// skipping jobs and attempts other transactions hold: a start renewing
// the lease holds the attempt row, and one that committed meanwhile is
// seen when the row is locked. It reads the open attempts
// (job_attempts_open_idx, at most SCHEDULER_MAX_IN_FLIGHT); the lease is
// the later of the attempt's and the job's (set by the code before
// migration 00012).
func jobLeaseExpiredLock(ctx context.Context, q querier, limit int) ([]jobState, error) {
	rows, err := q.Query(ctx, leaseExpiredQuery, limit)
	if err != nil {
		return nil, fmt.Errorf("scheduler: find expired leases: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanJobState)
	if err != nil {
		return nil, fmt.Errorf("scheduler: find expired leases: %w", err)
	}
	return list, nil
}

// jobDueCounts returns how many jobs are RUNNING and how many are due in
// each queue (counted up to limit). The RUNNING count is the sum of
// jobs_running, which triggers keep (migration 00013): O(1), where
// counting the jobs visits every entry left RUNNING since the last
// vacuum.
func jobDueCounts(ctx context.Context, q querier, limit int) (running, fresh, retry int, err error) {
	err = q.QueryRow(ctx, `
		SELECT (SELECT coalesce(sum(n), 0) FROM jobs_running),
		       (SELECT count(*) FROM (SELECT 1 FROM jobs
		          WHERE status = 'PENDING' AND attempts = 0 AND next_run_at <= now() LIMIT $1) f),
		       (SELECT count(*) FROM (SELECT 1 FROM jobs
		          WHERE status = 'PENDING' AND attempts > 0 AND next_run_at <= now() LIMIT $1) r)`,
		limit).Scan(&running, &fresh, &retry)
	if err != nil {
		err = fmt.Errorf("scheduler: count due jobs: %w", err)
	}
	return running, fresh, retry, err
}

// jobDueBacklog returns how many PENDING jobs are due (counted up to
// limit in each queue) and how long the one due longest has been due (0
// if none is).
func jobDueBacklog(ctx context.Context, q querier, limit int) (n int, oldest time.Duration, err error) {
	var secs *float64
	err = q.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM (SELECT 1 FROM jobs
		          WHERE status = 'PENDING' AND attempts = 0 AND next_run_at <= now() LIMIT $1) f)
		     + (SELECT count(*) FROM (SELECT 1 FROM jobs
		          WHERE status = 'PENDING' AND attempts > 0 AND next_run_at <= now() LIMIT $1) r),
		       extract(epoch FROM now() - least(
		          (SELECT min(next_run_at) FROM jobs WHERE status = 'PENDING' AND attempts = 0 AND next_run_at <= now()),
		          (SELECT min(next_run_at) FROM jobs WHERE status = 'PENDING' AND attempts > 0 AND next_run_at <= now())
		       ))::float8`, limit).Scan(&n, &secs)
	if err != nil {
		return 0, 0, fmt.Errorf("scheduler: measure the due backlog: %w", err)
	}
	if secs != nil && *secs > 0 {
		oldest = time.Duration(*secs * float64(time.Second))
	}
	return n, oldest, nil
}

// claimedJob is a job a dispatch pass moved to RUNNING.
type claimedJob struct {
	dispatch
	NextRunAt time.Time // when it became due
	CreatedAt time.Time // when the api accepted it
}

// jobClaimDue claims up to fresh jobs from the fresh queue and up to retry
// from the retry queue, oldest due first, skipping locked rows: each
// becomes RUNNING with its next attempt and a new dispatch ID, and gets
// its job_attempts row with that dispatch ID. It has no lease yet: the
// lease starts when a worker claims the attempt (jobStartMany).
func jobClaimDue(ctx context.Context, q querier, fresh, retry int) ([]claimedJob, error) {
	rows, err := q.Query(ctx, `
		WITH fresh AS (
		    SELECT id, version FROM jobs
		     WHERE status = 'PENDING' AND attempts = 0 AND next_run_at <= now()
		     ORDER BY next_run_at LIMIT $1 FOR UPDATE SKIP LOCKED
		), retry AS (
		    SELECT id, version FROM jobs
		     WHERE status = 'PENDING' AND attempts > 0 AND next_run_at <= now()
		     ORDER BY next_run_at LIMIT $2 FOR UPDATE SKIP LOCKED
		), due AS (
		    SELECT * FROM fresh UNION ALL SELECT * FROM retry
		), claimed AS (
		    UPDATE jobs j
		       SET status = 'RUNNING', attempts = j.attempts + 1,
		           lease_until = NULL, dispatch_id = gen_random_uuid(), dispatched_at = now(),
		           updated_at = now(), version = j.version + 1
		      FROM due
		     WHERE j.id = due.id AND j.version = due.version
		 RETURNING j.id, j.job_type, j.payload, j.max_retry_count, j.trace_id, j.status,
		           j.attempts, j.version, j.dispatch_id, j.next_run_at, j.created_at
		), attempt AS (
		    INSERT INTO job_attempts (job_id, attempt, dispatched_at, dispatch_id)
		    SELECT id, attempts, now(), dispatch_id FROM claimed
		)
		SELECT id::text, job_type, payload, max_retry_count, trace_id, status, attempts, version,
		       dispatch_id::text, now(), next_run_at, created_at
		  FROM claimed ORDER BY next_run_at, id`,
		fresh, retry)
	if err != nil {
		return nil, fmt.Errorf("scheduler: claim due jobs: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claimedJob, error) {
		var c claimedJob
		err := row.Scan(&c.ID, &c.JobType, &c.Payload, &c.MaxRetryCount, &c.TraceID, &c.Status,
			&c.Attempts, &c.Version, &c.DispatchID, &c.DispatchedAt, &c.NextRunAt, &c.CreatedAt)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("scheduler: claim due jobs: %w", err)
	}
	return list, nil
}

// jobUpdate is a job's new state after one or more attempt outcomes.
type jobUpdate struct {
	ID            string
	Version       int // as locked
	Status        string
	Delay         *time.Duration // retry: next_run_at = now() + Delay
	RunAt         *time.Time     // a park: next_run_at = RunAt (wins over Delay)
	BudgetBump    int            // uncharged attempts (yields, parks): budget_base += BudgetBump
	LastError     *string
	LastErrorCode *string
}

// jobUpdateMany writes updates, each only if the job still has the
// version read, and returns each job's finished_at (zero when unset).
// A job whose first started attempt ends here gets that attempt's start
// time as its started_at.
func jobUpdateMany(ctx context.Context, q querier, ups []jobUpdate) (map[string]time.Time, error) {
	if len(ups) == 0 {
		return nil, nil
	}
	var (
		ids, statuses = make([]string, len(ups)), make([]string, len(ups))
		versions      = make([]int32, len(ups))
		delays        = make([]*float64, len(ups))
		errs, codes   = make([]*string, len(ups)), make([]*string, len(ups))
		runAts        = make([]*time.Time, len(ups))
		bumps         = make([]int32, len(ups))
	)
	for i, u := range ups {
		ids[i], statuses[i], versions[i] = u.ID, u.Status, int32(u.Version)
		runAts[i], bumps[i] = u.RunAt, int32(u.BudgetBump)
		errs[i], codes[i] = u.LastError, u.LastErrorCode
		if u.Delay != nil {
			us := float64(u.Delay.Microseconds())
			delays[i] = &us
		}
	}
	rows, err := q.Query(ctx, `
		UPDATE jobs j
		   SET status = u.status,
		       next_run_at = CASE WHEN u.run_at IS NOT NULL THEN u.run_at
		                          WHEN u.delay_us IS NULL THEN j.next_run_at
		                          ELSE now() + u.delay_us * interval '1 microsecond' END,
		       budget_base = j.budget_base + u.bump,
		       lease_until = NULL,
		       started_at = coalesce(j.started_at, `+currentAttemptStart+`),
		       last_error = coalesce(u.last_error, j.last_error),
		       last_error_code = coalesce(u.last_error_code, j.last_error_code),
		       finished_at = CASE WHEN u.status IN ('COMPLETED', 'FAILED') THEN now() ELSE j.finished_at END,
		       updated_at = now(),
		       version = j.version + 1
		  FROM unnest($1::text[], $2::int[], $3::text[], $4::float8[], $5::text[], $6::text[],
		              $7::timestamptz[], $8::int[])
		       AS u(id, version, status, delay_us, last_error, last_error_code, run_at, bump)
		 WHERE j.id = u.id::uuid AND j.version = u.version
		RETURNING j.id::text, j.finished_at`,
		ids, versions, statuses, delays, errs, codes, runAts, bumps)
	if err != nil {
		return nil, fmt.Errorf("scheduler: update %d jobs: %w", len(ups), err)
	}
	out := make(map[string]time.Time, len(ups))
	var (
		id       string
		finished *time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &finished}, func() error {
		out[id] = time.Time{}
		if finished != nil {
			out[id] = *finished
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scheduler: update %d jobs: %w", len(ups), err)
	}
	if len(out) != len(ups) {
		return nil, fmt.Errorf("%w: updated %d of %d jobs", errVersionConflict, len(out), len(ups))
	}
	return out, nil
}

// jobStatusColumns read a job row aliased j. startedAt is the job's
// first start: a RUNNING job's current attempt's until that attempt ends
// (jobUpdateMany, cancel and the returns copy it to the job). leaseUntil
// is the current attempt's lease (or one set on the job before migration
// 00012).
const jobStatusColumns = `j.id::text, job_type, payload, max_retry_count, trace_id, status, attempts,
	last_error, last_error_code, created_at, ` + liveColumns + `, version, created_by`

// liveColumns are started_at, finished_at, updated_at, next_run_at and
// lease_until of the job row j, with its current attempt's start and lease.
const liveColumns = `coalesce(j.started_at, CASE WHEN status = 'RUNNING' THEN ` + currentAttemptStart + ` END),
	finished_at, updated_at, next_run_at,
	CASE WHEN status = 'RUNNING' THEN greatest(j.lease_until, ` + currentAttemptLease + `) END`

func scanJobStatus(row pgx.Row) (internalapi.JobStatus, error) {
	var (
		s              internalapi.JobStatus
		lastErr, code  *string
		next           time.Time
		lease, started *time.Time
		finish         *time.Time
	)
	if err := row.Scan(&s.JobID, &s.JobType, &s.Payload, &s.MaxRetryCount, &s.TraceID, &s.Status,
		&s.Attempts, &lastErr, &code, &s.CreatedAt, &started, &finish, &s.UpdatedAt, &next,
		&lease, &s.Version, &s.CreatedBy); err != nil {
		return s, err
	}
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	s.LastError, s.LastErrorCode, s.StartedAt, s.FinishedAt, s.NextRunAt, s.LeaseUntil =
		liveFields(s.Status, lastErr, code, started, finish, next, lease)
	s.WaitingUntil = waitingUntil(s.Status, next)
	return s, nil
}

// waitingUntil is a WAITING job's wake time (its next_run_at), nil
// otherwise.
func waitingUntil(status string, next time.Time) *time.Time {
	if status != internalapi.StatusWaiting {
		return nil
	}
	u := next.UTC()
	return &u
}

// liveFields turns a job row's nullable columns into its live state's
// fields, in UTC: nextRunAt only while PENDING, leaseUntil only while
// RUNNING (JobStatus and JobSummary alike).
func liveFields(status string, lastErr, code *string, started, finish *time.Time, next time.Time, lease *time.Time) (
	lastError, lastErrorCode string, startedAt, finishedAt, nextRunAt, leaseUntil *time.Time,
) {
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	if lastErr != nil {
		lastError = *lastErr
	}
	if code != nil {
		lastErrorCode = *code
	}
	startedAt, finishedAt = utc(started), utc(finish)
	if status == internalapi.StatusPending {
		nextRunAt = utc(&next)
	}
	if status == internalapi.StatusRunning {
		leaseUntil = utc(lease)
	}
	return lastError, lastErrorCode, startedAt, finishedAt, nextRunAt, leaseUntil
}

// callerOrAnonymous is the caller an event or request names, or
// "anonymous" for one from before callers were recorded.
func callerOrAnonymous(c string) string {
	if c = clean(c); c == "" {
		return "anonymous"
	}
	return c
}

// jobGetByID returns a job's status, or errJobNotFound.
func jobGetByID(ctx context.Context, q querier, id string) (internalapi.JobStatus, error) {
	s, err := scanJobStatus(q.QueryRow(ctx, `SELECT `+jobStatusColumns+` FROM jobs j WHERE j.id = $1::uuid`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return s, errJobNotFound
	}
	if err != nil {
		return s, fmt.Errorf("scheduler: get job %s: %w", id, err)
	}
	return s, nil
}
