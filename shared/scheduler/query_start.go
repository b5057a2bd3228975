package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// attemptRefs are AttemptRefs as the unnest arrays of the queries below.
func attemptRefArrays(refs []internalapi.AttemptRef) (jobIDs []string, attempts []int32, dispatchIDs []string) {
	jobIDs, attempts, dispatchIDs = make([]string, len(refs)), make([]int32, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		jobIDs[i], attempts[i], dispatchIDs[i] = r.JobID, int32(r.Attempt), r.DispatchID
	}
	return jobIDs, attempts, dispatchIDs
}

// lockCurrentDispatches locks, in ID order, the RUNNING jobs whose
// current attempt and dispatch are the ones named in $1..$3 (a job
// dispatched before migration 00005 has no dispatch ID and matches on its
// attempt alone). It yields (id, ref): the job and the dispatch ID asked.
const lockCurrentDispatches = `
	locked AS (
	    SELECT j.id, c.dispatch_id AS ref
	      FROM jobs j
	      JOIN unnest($1::text[], $2::int[], $3::text[]) AS c(job_id, attempt, dispatch_id)
	        ON j.id = c.job_id::uuid
	     WHERE j.status = 'RUNNING' AND j.attempts = c.attempt
	       AND (j.dispatch_id = c.dispatch_id::uuid OR j.dispatch_id IS NULL)
	     ORDER BY j.id
	       FOR UPDATE OF j
	)`

// jobStartMany starts the named attempts that are still their job's
// current dispatch: each gets a lease of lease from now() (Postgres'
// clock) and its start time. Starting an attempt again (a redelivery
// after a worker crash) renews its lease. It returns the dispatch IDs
// that may run.
//
// It writes only the attempt rows, and changes no indexed column of
// job_attempts (lease_until and started_at are in no index), so each
// update is HOT; the job row is read, not written (see "Leases" in
// docs/architecture.md). The attempt rows are locked in ID order and
// checked on the latest row version: every change that ends an attempt
// or supersedes its dispatch (a result, a rescue, a cancel, a return, a
// re-drive) writes or deletes that row, so a start that waited for one
// sees it and refuses. The job's own check (RUNNING, the attempt
// current, the dispatch ID the latest) guards attempts dispatched before
// migration 00012, whose rows carry no dispatch ID.
func jobStartMany(ctx context.Context, q querier, refs []internalapi.AttemptRef, lease time.Duration) ([]string, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	ids, attempts, dispatches := attemptRefArrays(refs)
	rows, err := q.Query(ctx, `
		WITH locked AS (
		    SELECT a.job_id, a.attempt, c.dispatch_id AS ref
		      FROM unnest($1::text[], $2::int[], $3::text[]) AS c(job_id, attempt, dispatch_id)
		      JOIN job_attempts a ON a.job_id = c.job_id::uuid AND a.attempt = c.attempt
		      JOIN jobs j ON j.id = a.job_id
		     WHERE a.outcome IS NULL
		       AND (a.dispatch_id = c.dispatch_id::uuid OR a.dispatch_id IS NULL)
		       AND j.status = 'RUNNING' AND j.attempts = a.attempt
		       AND (j.dispatch_id = c.dispatch_id::uuid OR j.dispatch_id IS NULL)
		     ORDER BY a.job_id
		       FOR NO KEY UPDATE OF a
		), started AS (
		    UPDATE job_attempts a
		       SET lease_until = now() + $4::float8 * interval '1 microsecond',
		           started_at = coalesce(a.started_at, now())
		      FROM locked
		     WHERE a.job_id = locked.job_id AND a.attempt = locked.attempt
		 RETURNING locked.ref
		)
		SELECT ref FROM started`,
		ids, attempts, dispatches, float64(lease.Microseconds()))
	if err != nil {
		return nil, fmt.Errorf("scheduler: start %d attempts: %w", len(refs), err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("scheduler: start %d attempts: %w", len(refs), err)
	}
	return out, nil
}

// returnDispatches is the tail of the queries that take dispatched
// attempts back without charging them: the jobs in `locked` become
// PENDING again with their attempt count lowered and their attempt row
// deleted. They keep next_run_at, so they are at the head of their queue
// for the next dispatch pass, and the attempt's start time if it had one
// (startedAt is the job's first start). It yields the refs returned.
const returnDispatches = `
	returned AS (
	    UPDATE jobs j
	       SET status = 'PENDING', attempts = j.attempts - 1, lease_until = NULL,
	           dispatch_id = NULL, dispatched_at = NULL, updated_at = now(),
	           started_at = coalesce(j.started_at, ` + currentAttemptStart + `),
	           version = j.version + 1
	      FROM locked
	     WHERE j.id = locked.id
	 RETURNING j.id, j.attempts + 1 AS attempt, locked.ref
	), forgotten AS (
	    DELETE FROM job_attempts a USING returned
	     WHERE a.job_id = returned.id AND a.attempt = returned.attempt
	)
	SELECT ref FROM returned`

// jobReleaseMany takes back the named attempts that are still their job's
// current dispatch: the worker did not run them. It returns the dispatch
// IDs released.
func jobReleaseMany(ctx context.Context, q querier, refs []internalapi.AttemptRef) ([]string, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	ids, attempts, dispatches := attemptRefArrays(refs)
	rows, err := q.Query(ctx, `WITH `+lockCurrentDispatches+`,`+returnDispatches, ids, attempts, dispatches)
	if err != nil {
		return nil, fmt.Errorf("scheduler: release %d attempts: %w", len(refs), err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("scheduler: release %d attempts: %w", len(refs), err)
	}
	return out, nil
}

// unstartedQuery is jobReturnUnstarted's statement ($1: the timeout in
// microseconds, $2: the limit). The candidates come from the open
// attempt rows alone (job_attempts_open_idx, from its oldest dispatch to
// the cutoff); only they are looked up in jobs, checked and locked.
const unstartedQuery = `
	WITH locked AS (
	    SELECT j.id, j.dispatch_id::text AS ref
	      FROM jobs j
	      JOIN job_attempts a ON a.job_id = j.id AND a.attempt = j.attempts
	     WHERE j.id = ANY(ARRAY(SELECT c.job_id FROM job_attempts c
	                             WHERE c.outcome IS NULL AND c.lease_until IS NULL
	                               AND c.dispatched_at < now() - $1::float8 * interval '1 microsecond'))
	       AND a.outcome IS NULL AND a.lease_until IS NULL AND j.lease_until IS NULL AND j.status = 'RUNNING'
	       AND j.dispatched_at < now() - $1::float8 * interval '1 microsecond'
	     ORDER BY j.dispatched_at LIMIT $2
	       FOR UPDATE OF j, a SKIP LOCKED
	),` + returnDispatches

// jobReturnUnstarted takes back up to limit attempts dispatched more than
// timeout ago that no worker started, oldest first, skipping jobs (and
// attempts) other transactions hold. It reads the open attempts
// dispatched before the cutoff (the attempt's dispatched_at is never
// later than its job's: a re-drive moves only the job's on). A lease on
// either row means started (jobs.lease_until: by the code before
// migration 00012). It returns how many it took back.
func jobReturnUnstarted(ctx context.Context, q querier, timeout time.Duration, limit int) (int, error) {
	rows, err := q.Query(ctx, unstartedQuery, float64(timeout.Microseconds()), limit)
	if err != nil {
		return 0, fmt.Errorf("scheduler: return unstarted attempts: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("scheduler: return unstarted attempts: %w", err)
	}
	return len(out), nil
}

// dispatch is a job's attempt as dispatched (by a claim, or again by
// Redrive): its run-job record's event ID (the dispatch ID) and when.
type dispatch struct {
	jobState
	DispatchID   string // the run-job event ID: only that record may start the attempt
	DispatchedAt time.Time
	// Callback: the result of the job's wait for a callback, if it has
	// one (attachCallbacks).
	Callback *envelope.CallbackResult
}

// runJob is the run-job event of d: the record is the dispatch, so a
// worker starts the attempt only through it (see start.go).
func (d dispatch) runJob() (envelope.Envelope, error) {
	e, err := envelope.New(envelope.TypeRunJob, d.TraceID, d.ID, envelope.RunJob{
		JobSpec:      envelope.JobSpec{JobType: d.JobType, Payload: d.Payload, MaxRetryCount: d.MaxRetryCount},
		Attempt:      d.Attempts,
		DispatchedAt: d.DispatchedAt.UTC(),
		Callback:     d.Callback,
	})
	e.EventID = d.DispatchID
	return e, err
}

// jobRedispatchRunning gives every RUNNING job a new dispatch of its
// current attempt, not yet started, and returns them. The attempt row
// gets the new dispatch ID and loses its lease: a start of an old record
// then finds its dispatch superseded.
func jobRedispatchRunning(ctx context.Context, q querier) ([]dispatch, error) {
	rows, err := q.Query(ctx, `
		WITH locked AS (
		    SELECT id FROM jobs WHERE status = 'RUNNING' ORDER BY id FOR UPDATE
		), redispatched AS (
		    UPDATE jobs j
		       SET lease_until = NULL, dispatch_id = gen_random_uuid(), dispatched_at = now(),
		           updated_at = now(), version = j.version + 1
		      FROM locked WHERE j.id = locked.id
		    RETURNING j.id, j.job_type, j.payload, j.max_retry_count, j.trace_id, j.status,
		              j.attempts, j.version, j.dispatch_id, j.dispatched_at
		), attempt AS (
		    UPDATE job_attempts a SET lease_until = NULL, dispatch_id = r.dispatch_id
		      FROM redispatched r WHERE a.job_id = r.id AND a.attempt = r.attempts
		)
		SELECT id::text, job_type, payload, max_retry_count, trace_id, status,
		       attempts, version, dispatch_id::text, dispatched_at
		  FROM redispatched`)
	if err != nil {
		return nil, fmt.Errorf("scheduler: redispatch running jobs: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (dispatch, error) {
		var r dispatch
		err := row.Scan(&r.ID, &r.JobType, &r.Payload, &r.MaxRetryCount, &r.TraceID, &r.Status,
			&r.Attempts, &r.Version, &r.DispatchID, &r.DispatchedAt)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("scheduler: redispatch running jobs: %w", err)
	}
	return list, nil
}
