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
func jobStartMany(ctx context.Context, q querier, refs []internalapi.AttemptRef, lease time.Duration) ([]string, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	ids, attempts, dispatches := attemptRefArrays(refs)
	rows, err := q.Query(ctx, `
		WITH `+lockCurrentDispatches+`, started AS (
		    UPDATE jobs j
		       SET lease_until = now() + $4::float8 * interval '1 microsecond',
		           started_at = coalesce(j.started_at, now()), updated_at = now(),
		           version = j.version + 1
		      FROM locked
		     WHERE j.id = locked.id
		 RETURNING j.id, j.attempts, locked.ref
		), attempt AS (
		    UPDATE job_attempts a SET started_at = coalesce(a.started_at, now())
		      FROM started WHERE a.job_id = started.id AND a.attempt = started.attempts
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
// for the next dispatch pass. It yields the refs returned.
const returnDispatches = `
	returned AS (
	    UPDATE jobs j
	       SET status = 'PENDING', attempts = j.attempts - 1, lease_until = NULL,
	           dispatch_id = NULL, dispatched_at = NULL, updated_at = now(),
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

// jobReturnUnstarted takes back up to limit attempts dispatched more than
// timeout ago that no worker started, oldest first, skipping jobs other
// transactions hold. It returns how many it took back.
func jobReturnUnstarted(ctx context.Context, q querier, timeout time.Duration, limit int) (int, error) {
	rows, err := q.Query(ctx, `
		WITH locked AS (
		    SELECT id, dispatch_id::text AS ref FROM jobs
		     WHERE status = 'RUNNING' AND lease_until IS NULL
		       AND dispatched_at < now() - $1::float8 * interval '1 microsecond'
		     ORDER BY dispatched_at LIMIT $2
		       FOR UPDATE SKIP LOCKED
		),`+returnDispatches, float64(timeout.Microseconds()), limit)
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
// current attempt, not yet started, and returns them.
func jobRedispatchRunning(ctx context.Context, q querier) ([]dispatch, error) {
	rows, err := q.Query(ctx, `
		WITH locked AS (
		    SELECT id FROM jobs WHERE status = 'RUNNING' ORDER BY id FOR UPDATE
		)
		UPDATE jobs j
		   SET lease_until = NULL, dispatch_id = gen_random_uuid(), dispatched_at = now(),
		       updated_at = now(), version = j.version + 1
		  FROM locked WHERE j.id = locked.id
		RETURNING j.id::text, j.job_type, j.payload, j.max_retry_count, j.trace_id, j.status,
		          j.attempts, j.version, j.dispatch_id::text, j.dispatched_at`)
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
