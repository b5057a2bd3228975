package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/outbox"
)

// Redrive dispatches again, at once and without charging an attempt, the
// current attempt of every RUNNING job (started or not), and then drains
// the outbox (unsent rows included). It is for a stack whose broker lost
// its log (a new cluster): run-job records and results in flight are gone.
// Old records that survive are refused when they try to start. Call it
// only when no worker is running attempts, such as at start-up. It
// returns how many jobs it dispatched again.
func (s *Service) Redrive(ctx context.Context) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		jobs, err := jobRedispatchRunning(ctx, tx)
		if err != nil {
			return err
		}
		ds := make([]*dispatch, len(jobs))
		for i := range jobs {
			ds[i] = &jobs[i]
		}
		if err := attachCallbacks(ctx, tx, ds); err != nil {
			return err
		}
		envs := make([]envelope.Envelope, 0, len(jobs))
		for _, j := range jobs {
			e, err := j.runJob()
			if err != nil {
				return err
			}
			envs = append(envs, e)
		}
		n = len(envs)
		return outbox.Add(ctx, tx, envs...)
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.metrics.Count("JobsRedriven", n)
	}
	if _, err := s.relay.Drain(ctx); err != nil {
		return n, fmt.Errorf("scheduler: redrive: %d jobs dispatched again but not yet published: %w", n, err)
	}
	return n, nil
}

// Broker returns the cluster ID RecordBroker last recorded, or "" if none.
func (s *Service) Broker(ctx context.Context) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT cluster_id FROM broker_identity`).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("scheduler: read the recorded broker: %w", err)
	}
	return id, nil
}

// RecordBroker records clusterID as the Kafka cluster this database's
// work goes to.
func (s *Service) RecordBroker(ctx context.Context, clusterID string) error {
	if _, err := s.pool.Exec(ctx, `
		INSERT INTO broker_identity (cluster_id) VALUES ($1)
		ON CONFLICT (singleton) DO UPDATE SET cluster_id = excluded.cluster_id, recorded_at = now()`, clusterID); err != nil {
		return fmt.Errorf("scheduler: record the broker: %w", err)
	}
	return nil
}

// InFlight counts the work a broker holds for this database: RUNNING jobs
// (their run-job records, or the results coming back) and unsent outbox
// rows.
func (s *Service) InFlight(ctx context.Context) (running, unsent int, err error) {
	err = s.pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM jobs WHERE status = 'RUNNING'), (SELECT count(*) FROM outbox)`).Scan(&running, &unsent)
	if err != nil {
		return 0, 0, fmt.Errorf("scheduler: count the work in flight: %w", err)
	}
	return running, unsent, nil
}

// deadLetterNS derives the event ID of a dead letter DeadLetterAgain sends.
var deadLetterNS = uuid.MustParse("0b7e3f4c-5d1a-4e2b-8c6d-444541444c45")

// FailedJobs returns up to limit IDs of FAILED jobs after after, in ID
// order: the jobs that made a dead letter.
func (s *Service) FailedJobs(ctx context.Context, after string, limit int) ([]string, error) {
	if after == "" {
		after = uuid.Nil.String()
	}
	rows, err := s.pool.Query(ctx, `SELECT id::text FROM jobs WHERE status = 'FAILED' AND id > $1::uuid ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("scheduler: list failed jobs: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("scheduler: list failed jobs: %w", err)
	}
	return ids, nil
}

// DeadLetterAgain writes to the outbox, once more, the dead letter of each
// FAILED job among ids (others are skipped), for dead letters lost with a
// broker before the dlq stored them. It is rebuilt from the job and its
// attempts: the reason is RETRIES_EXHAUSTED when the job had no retry
// left, else PERMANENT_FAILURE; failedAt is the job's finishedAt. Its
// event ID is derived from the job ID, so sending it twice stores it once.
// It returns how many it wrote.
func (s *Service) DeadLetterAgain(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT j.id::text, j.job_type, j.payload, j.max_retry_count, j.trace_id, j.attempts, j.budget_base,
			       coalesce(j.last_error_code, ''), coalesce(j.last_error, ''), coalesce(j.finished_at, j.updated_at),
			       (SELECT a.dead_letter_id::text FROM job_attempts a WHERE a.job_id = j.id AND a.attempt = j.attempts)
			  FROM jobs j WHERE j.id = ANY($1::text[]::uuid[]) AND j.status = 'FAILED' ORDER BY j.id`, ids)
		if err != nil {
			return fmt.Errorf("scheduler: read failed jobs: %w", err)
		}
		type failed struct {
			id, jobType, traceID, code, msg string
			payload                         []byte
			maxRetry, attempts, base        int
			at                              time.Time
			deadLetterID                    *string
		}
		jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (failed, error) {
			var f failed
			err := r.Scan(&f.id, &f.jobType, &f.payload, &f.maxRetry, &f.traceID, &f.attempts, &f.base, &f.code, &f.msg, &f.at, &f.deadLetterID)
			return f, err
		})
		if err != nil || len(jobs) == 0 {
			return err
		}
		found := make([]string, len(jobs))
		for i, f := range jobs {
			found[i] = f.id
		}
		attempts, err := attemptListByJobs(ctx, tx, found)
		if err != nil {
			return err
		}
		envs := make([]envelope.Envelope, 0, len(jobs))
		for _, f := range jobs {
			reason := ReasonPermanentFailure
			if (jobState{MaxRetryCount: f.maxRetry, BudgetBase: f.base}).retriesLeft(f.attempts) <= 0 {
				reason = ReasonRetriesExhausted
			}
			list := attempts[f.id]
			if list == nil {
				list = []envelope.AttemptSummary{}
			}
			e, err := envelope.New(envelope.TypeJobDeadLetter, f.traceID, f.id, envelope.JobDeadLetter{
				JobSpec:   envelope.JobSpec{JobType: f.jobType, Payload: f.payload, MaxRetryCount: f.maxRetry},
				Reason:    reason,
				ErrorCode: f.code,
				LastError: f.msg,
				Attempts:  list,
				FailedAt:  f.at.UTC(),
			})
			if err != nil {
				return err
			}
			switch {
			case f.deadLetterID != nil: // the first one's ID: the dlq stores it once
				e.EventID = *f.deadLetterID
			case f.base == 0:
				e.EventID = uuid.NewSHA1(deadLetterNS, []byte(f.id)).String()
			default: // a job that failed again after a manual retry has another dead letter
				e.EventID = uuid.NewSHA1(deadLetterNS, []byte(fmt.Sprintf("%s/%d", f.id, f.attempts))).String()
			}
			envs = append(envs, e)
		}
		n = len(envs)
		return outbox.Add(ctx, tx, envs...)
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.log.InfoContext(ctx, "dead letters sent again", "jobs", n)
	}
	return n, nil
}
