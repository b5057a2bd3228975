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
	"github.com/jobweaver/jobweaver/shared/trace"
)

// redriveChunk is how many RUNNING jobs one Redrive transaction takes.
const redriveChunk = 500

// redriveNS derives the event ID of a re-driven run-job (RedriveEventID).
var redriveNS = uuid.MustParse("6f1d7c1e-3b0a-4c55-9a57-524544524956")

// RedriveEventID is the event ID of the run-job that Redrive writes for
// attempt of job, dispatched at dispatchedAt: the same for every Redrive
// of that attempt, so a worker that already finished one skips the others
// (the worker dedups on the run-job's event ID).
func RedriveEventID(jobID string, attempt int, dispatchedAt time.Time) string {
	return uuid.NewSHA1(redriveNS, fmt.Appendf(nil, "%s/%d/%d", jobID, attempt, dispatchedAt.UnixMicro())).String()
}

// Redrive sends every RUNNING job's current attempt to the workers again,
// for when the broker that held their run-job records is gone (a local
// stack whose broker log was removed while the databases were kept). Each
// job keeps its status (RUNNING), its attempt count and its open
// job_attempts row, so no attempt is charged; its lease starts again from
// now (Config.Lease), and a run-job for the same attempt (same
// dispatchedAt, a new event ID from RedriveEventID) goes to the outbox
// in the same transaction. The caller, or the next tick, relays it. It
// returns how many jobs it re-drove and logs the count.
//
// A worker that had finished the attempt but whose result was lost with
// the broker runs the attempt again under the new event ID: its steps
// may run twice (there is no step checkpoint yet).
func (s *Service) Redrive(ctx context.Context) (int, error) {
	total, after := 0, uuid.Nil.String()
	for {
		n, last, err := s.redriveChunk(ctx, after)
		if err != nil {
			return total, err
		}
		total += n
		if n < redriveChunk {
			break
		}
		after = last
	}
	if total > 0 {
		s.log.InfoContext(ctx, "re-drove the RUNNING jobs: their run-job records were sent again at the same attempt, with a fresh lease", "jobs", total)
	}
	return total, nil
}

// redriveChunk re-drives up to redriveChunk RUNNING jobs with IDs after
// after, in ID order, and returns how many and the last ID.
func (s *Service) redriveChunk(ctx context.Context, after string) (n int, last string, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			WITH running AS (
			    SELECT id FROM jobs
			     WHERE status = 'RUNNING' AND id > $1::uuid
			     ORDER BY id LIMIT $2 FOR UPDATE
			), moved AS (
			    UPDATE jobs j
			       SET lease_until = now() + $3::float8 * interval '1 microsecond',
			           updated_at = now(), version = j.version + 1
			      FROM running
			     WHERE j.id = running.id
			 RETURNING j.id, j.job_type, j.payload, j.max_retry_count, j.trace_id, j.attempts, j.lease_until
			)
			SELECT m.id::text, m.job_type, m.payload, m.max_retry_count, m.trace_id, m.attempts, m.lease_until,
			       coalesce(a.dispatched_at, m.lease_until)
			  FROM moved m
			  LEFT JOIN job_attempts a ON a.job_id = m.id AND a.attempt = m.attempts
			 ORDER BY m.id`,
			after, redriveChunk, float64(s.cfg.Lease.Microseconds()))
		if err != nil {
			return fmt.Errorf("scheduler: redrive: %w", err)
		}
		var envs []envelope.Envelope
		for rows.Next() {
			var (
				id, jobType, traceID   string
				payload                []byte
				maxRetry, attempt      int
				leaseUntil, dispatched time.Time
			)
			if err := rows.Scan(&id, &jobType, &payload, &maxRetry, &traceID, &attempt, &leaseUntil, &dispatched); err != nil {
				rows.Close()
				return fmt.Errorf("scheduler: redrive: %w", err)
			}
			e, err := envelope.New(envelope.TypeRunJob, traceID, id, envelope.RunJob{
				JobSpec:      envelope.JobSpec{JobType: jobType, Payload: payload, MaxRetryCount: maxRetry},
				Attempt:      attempt,
				DispatchedAt: dispatched.UTC(),
				LeaseUntil:   leaseUntil.UTC(),
			})
			if err != nil {
				rows.Close()
				return err
			}
			e.EventID = RedriveEventID(id, attempt, dispatched)
			envs = append(envs, e)
			last = id
			s.log.DebugContext(trace.With(ctx, traceID, id), "job re-driven", "attempt", attempt, "eventId", e.EventID)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("scheduler: redrive: %w", err)
		}
		n = len(envs)
		return outbox.Add(ctx, tx, envs...)
	})
	if err != nil {
		return 0, "", err
	}
	return n, last, nil
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
			SELECT id::text, job_type, payload, max_retry_count, trace_id, attempts,
			       coalesce(last_error_code, ''), coalesce(last_error, ''), coalesce(finished_at, updated_at)
			  FROM jobs WHERE id = ANY($1::text[]::uuid[]) AND status = 'FAILED' ORDER BY id`, ids)
		if err != nil {
			return fmt.Errorf("scheduler: read failed jobs: %w", err)
		}
		type failed struct {
			id, jobType, traceID, code, msg string
			payload                         []byte
			maxRetry, attempts              int
			at                              time.Time
		}
		jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (failed, error) {
			var f failed
			err := r.Scan(&f.id, &f.jobType, &f.payload, &f.maxRetry, &f.traceID, &f.attempts, &f.code, &f.msg, &f.at)
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
			if f.attempts-1 >= f.maxRetry {
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
			e.EventID = uuid.NewSHA1(deadLetterNS, []byte(f.id)).String()
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
