package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/envelope"
)

// attemptFinish records how an attempt ended.
type attemptFinish struct {
	JobID      string
	Attempt    int
	Outcome    string
	DurationMs *int64 // nil: now() - dispatched_at
	ErrorCode  *string
	Error      *string
	// RetryDelay is set when the failure scheduled a retry: retry_at =
	// now() + RetryDelay, the job's next_run_at (the same now()).
	RetryDelay *time.Duration
	// DeadLetterID is set when the job gave up: its dead letter's event ID.
	DeadLetterID *string
}

// attemptFinishMany writes the outcome of attempts, finished now().
func attemptFinishMany(ctx context.Context, q querier, fs []attemptFinish) error {
	if len(fs) == 0 {
		return nil
	}
	var (
		ids, outcomes = make([]string, len(fs)), make([]string, len(fs))
		attempts      = make([]int32, len(fs))
		durations     = make([]*int64, len(fs))
		codes, errs   = make([]*string, len(fs)), make([]*string, len(fs))
		retries       = make([]*float64, len(fs))
		dead          = make([]*string, len(fs))
	)
	for i, f := range fs {
		ids[i], attempts[i], outcomes[i] = f.JobID, int32(f.Attempt), f.Outcome
		durations[i], codes[i], errs[i], dead[i] = f.DurationMs, f.ErrorCode, f.Error, f.DeadLetterID
		if f.RetryDelay != nil {
			us := float64(f.RetryDelay.Microseconds())
			retries[i] = &us
		}
	}
	_, err := q.Exec(ctx, `
		UPDATE job_attempts a
		   SET outcome = u.outcome, finished_at = now(),
		       duration_ms = coalesce(u.duration_ms,
		                              (extract(epoch FROM now() - a.dispatched_at) * 1000)::bigint),
		       error_code = u.error_code, error = u.error,
		       retry_at = now() + u.retry_us * interval '1 microsecond',
		       dead_letter_id = u.dead_letter_id::uuid
		  FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::float8[], $8::text[])
		       AS u(job_id, attempt, outcome, duration_ms, error_code, error, retry_us, dead_letter_id)
		 WHERE a.job_id = u.job_id::uuid AND a.attempt = u.attempt`,
		ids, attempts, outcomes, durations, codes, errs, retries, dead)
	if err != nil {
		return fmt.Errorf("scheduler: record %d attempt outcomes: %w", len(fs), err)
	}
	return nil
}

// attemptListByJobs returns every attempt of the given jobs, in order, as
// dead-letter summaries.
func attemptListByJobs(ctx context.Context, q querier, jobIDs []string) (map[string][]envelope.AttemptSummary, error) {
	rows, err := q.Query(ctx, `
		SELECT job_id::text, attempt, dispatched_at, finished_at, coalesce(duration_ms, 0),
		       coalesce(outcome, ''), coalesce(error_code, ''), coalesce(error, '')
		  FROM job_attempts WHERE job_id = ANY($1::text[]::uuid[])
		 ORDER BY job_id, attempt`, jobIDs)
	if err != nil {
		return nil, fmt.Errorf("scheduler: list attempts: %w", err)
	}
	out := map[string][]envelope.AttemptSummary{}
	var (
		jobID    string
		a        envelope.AttemptSummary
		finished *time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&jobID, &a.Attempt, &a.DispatchedAt, &finished, &a.DurationMs, &a.Outcome, &a.ErrorCode, &a.Error}, func() error {
		s := a
		s.DispatchedAt = s.DispatchedAt.UTC()
		if finished != nil {
			f := finished.UTC()
			s.FinishedAt = &f
		}
		out[jobID] = append(out[jobID], s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scheduler: list attempts: %w", err)
	}
	return out, nil
}

// processedEventInsertMany records event IDs as processed and returns the
// ones that were not already.
func processedEventInsertMany(ctx context.Context, q querier, eventIDs []string) (map[string]bool, error) {
	if len(eventIDs) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, `
		INSERT INTO processed_events (event_id)
		SELECT e::uuid FROM unnest($1::text[]) AS e ORDER BY 1
		ON CONFLICT (event_id) DO NOTHING
		RETURNING event_id::text`, eventIDs)
	if err != nil {
		return nil, fmt.Errorf("scheduler: record processed events: %w", err)
	}
	fresh := make(map[string]bool, len(eventIDs))
	var id string
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { fresh[id] = true; return nil }); err != nil {
		return nil, fmt.Errorf("scheduler: record processed events: %w", err)
	}
	return fresh, nil
}
