package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/step"
)

// Codes and statuses of durable resume.
const (
	// CodeYielded marks an attempt cut by a deadline between or inside
	// steps: not a failure, dispatched again uncharged.
	CodeYielded = "WORKER.YIELDED"
	// CodeParked marks an attempt that parked its job (a long SLEEP).
	CodeParked = "WORKER.PARKED"
	// CodeStepExceedsTimeout fails a job (permanently) whose attempts
	// yielded DurableConfig.MaxIdleYields times in a row without finishing
	// a step: a step that cannot finish within one invocation.
	CodeStepExceedsTimeout = "WORKER.STEP_EXCEEDS_TIMEOUT"
	// CodeCheckpointsUnavailable fails an attempt whose job's checkpoints
	// could not be read (retried): running without them could repeat
	// finished steps.
	CodeCheckpointsUnavailable = "WORKER.CHECKPOINTS_UNAVAILABLE"

	StatusYielded = "YIELDED"
	StatusParked  = "PARKED"
	StepParked    = "PARKED"
	// StepInterrupted marks a step cut mid-way by a deadline: it runs
	// again, from its start, in the next attempt.
	StepInterrupted = "INTERRUPTED"
)

// DurableConfig tunes durable resume and parking.
type DurableConfig struct {
	// ParkThreshold (WORKER_PARK_THRESHOLD, default 2s): a SLEEP longer
	// than this parks the job instead of holding a slot. Negative: only
	// sleeps over MaxInlineSleep park.
	ParkThreshold time.Duration
	// MaxIdleYields (WORKER_MAX_IDLE_YIELDS, default 3): after this many
	// yields in a row without a new checkpoint the job fails with
	// CodeStepExceedsTimeout.
	MaxIdleYields int
}

// Durable defaults.
const (
	DefaultParkThreshold = 2 * time.Second
	DefaultMaxIdleYields = 3
	// MaxInlineSleep is the longest SLEEP that may run inside an attempt
	// (step.MaxSleepMs before parking existed); longer ones always park.
	MaxInlineSleep = step.MaxSleepMs * time.Millisecond
)

func durableFromEnv(env *config.Env) DurableConfig {
	return DurableConfig{
		ParkThreshold: env.Duration("WORKER_PARK_THRESHOLD", DefaultParkThreshold, -time.Hour, MaxInlineSleep),
		MaxIdleYields: env.Int("WORKER_MAX_IDLE_YIELDS", DefaultMaxIdleYields, 1, 1000),
	}
}

func (d DurableConfig) withDefaults() DurableConfig {
	if d.ParkThreshold == 0 {
		d.ParkThreshold = DefaultParkThreshold
	}
	if d.MaxIdleYields == 0 {
		d.MaxIdleYields = DefaultMaxIdleYields
	}
	return d
}

// parkAfter is the longest sleep that runs inline.
func (d DurableConfig) parkAfter() time.Duration {
	if d.ParkThreshold < 0 || d.ParkThreshold > MaxInlineSleep {
		return MaxInlineSleep
	}
	return d.ParkThreshold
}

// checkpoint is one finished step of a job.
type checkpoint struct {
	id       string
	output   json.RawMessage // nil: none kept
	finished time.Time       // in the future: a parked SLEEP's wake time
}

// dbTries is how many times a checkpoint read or write is tried: a lost
// database session (a failover, a terminated backend) costs one try, and
// the pool connects again for the next.
const dbTries = 3

// retryDB runs f up to dbTries times, pausing a little between tries,
// while ctx lasts.
func retryDB(ctx context.Context, f func() error) error {
	var err error
	for i := range dbTries {
		if err = f(); err == nil || ctx.Err() != nil {
			return err
		}
		if i < dbTries-1 {
			t := time.NewTimer(time.Duration(50*(i+1)) * time.Millisecond)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
	return err
}

// loadCheckpoints returns the job's checkpoints by step index.
func (s *Service) loadCheckpoints(ctx context.Context, jobID string) (out map[int]checkpoint, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkpointTimeout)
	defer cancel()
	err = retryDB(ctx, func() error {
		out, err = s.queryCheckpoints(ctx, jobID)
		return err
	})
	return out, err
}

func (s *Service) queryCheckpoints(ctx context.Context, jobID string) (map[int]checkpoint, error) {
	all, err := s.queryCheckpointsMany(ctx, []string{jobID})
	if err != nil {
		return nil, err
	}
	if all[jobID] == nil {
		return map[int]checkpoint{}, nil
	}
	return all[jobID], nil
}

// queryCheckpointsMany returns the checkpoints of jobs by job and step.
func (s *Service) queryCheckpointsMany(ctx context.Context, jobIDs []string) (map[string]map[int]checkpoint, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT job_id::text, step_index, coalesce(step_id, ''), output::text, finished_at
		  FROM step_checkpoints WHERE job_id = ANY($1::text[]::uuid[])`, jobIDs)
	if err != nil {
		return nil, fmt.Errorf("worker: load the checkpoints of %d jobs: %w", len(jobIDs), err)
	}
	out := map[string]map[int]checkpoint{}
	var (
		job string
		k   int
		id  string
		o   *string
		fin time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&job, &k, &id, &o, &fin}, func() error {
		c := checkpoint{id: id, finished: fin}
		if o != nil {
			c.output = json.RawMessage(*o)
		}
		if out[job] == nil {
			out[job] = map[int]checkpoint{}
		}
		out[job][k] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("worker: load the checkpoints of %d jobs: %w", len(jobIDs), err)
	}
	return out, nil
}

// loadBatchCheckpoints loads the checkpoints of a batch's jobs in one
// query. If it fails, each attempt loads its own (with retries). Only the
// job's current dispatch runs, so no other attempt of these jobs adds
// checkpoints meanwhile (a racing duplicate delivery may, and then runs a
// step twice, as it always could).
func (s *Service) loadBatchCheckpoints(ctx context.Context, tasks []*task) {
	ids := make([]string, 0, len(tasks))
	for _, t := range tasks {
		if t.invalid == nil {
			ids = append(ids, t.jobID)
		}
	}
	if len(ids) == 0 {
		return
	}
	all, err := s.queryCheckpointsMany(ctx, ids)
	if err != nil {
		s.log.WarnContext(ctx, "checkpoints not loaded for the batch; each attempt loads its own", "error", err.Error())
		return
	}
	for _, t := range tasks {
		t.cps, t.cpsLoaded = all[t.jobID], true
		if t.cps == nil {
			t.cps = map[int]checkpoint{}
		}
	}
}

// pendingCheckpoint is the checkpoint of an attempt's last step, written
// with the attempt's executions row (one statement per commit) rather than
// on its own: no step follows it.
type pendingCheckpoint struct {
	index  int
	id     string
	output json.RawMessage
	at     time.Time
}

const insertCheckpoints = `
INSERT INTO step_checkpoints (job_id, step_index, step_id, output, attempt, finished_at)
SELECT j::uuid, i, NULLIF(s, ''), o::jsonb, a, f
FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::timestamptz[]) AS r(j, i, s, o, a, f)
ON CONFLICT (job_id, step_index) DO NOTHING`

// insertLastCheckpoints writes the last-step checkpoints of the attempts
// whose executions row went in.
func insertLastCheckpoints(ctx context.Context, tx pgx.Tx, tasks []*task, outs []outcome, inserted map[string]bool) error {
	var jobIDs, stepIDs []string
	var outputs []*string
	var idx, attempts []int32
	var at []time.Time
	for i, t := range tasks {
		c := outs[i].last
		if c == nil || !inserted[t.eventID] {
			continue
		}
		jobIDs = append(jobIDs, t.jobID)
		idx = append(idx, int32(c.index))
		stepIDs = append(stepIDs, c.id)
		var o *string
		if c.output != nil {
			str := string(c.output)
			o = &str
		}
		outputs = append(outputs, o)
		attempts = append(attempts, int32(t.job.Attempt))
		at = append(at, c.at)
	}
	if len(jobIDs) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, insertCheckpoints, jobIDs, idx, stepIDs, outputs, attempts, at); err != nil {
		return fmt.Errorf("worker: insert checkpoints: %w", err)
	}
	return nil
}

// checkpointTimeout bounds a checkpoint write, which runs even when the
// step's context has just ended (the step did finish).
const checkpointTimeout = 5 * time.Second

// saveCheckpoint records that step k of t's job finished (or, for a park,
// will have finished at fin), in its own transaction. A checkpoint
// already there (a racing delivery) stays.
func (s *Service) saveCheckpoint(ctx context.Context, t *task, k int, id string, out json.RawMessage, fin time.Time) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkpointTimeout)
	defer cancel()
	var o *string
	if out != nil {
		str := string(out)
		o = &str
	}
	err := retryDB(ctx, func() error {
		_, err := s.pool.Exec(ctx, `
		INSERT INTO step_checkpoints (job_id, step_index, step_id, output, attempt, finished_at)
		VALUES ($1::uuid, $2, NULLIF($3, ''), $4::jsonb, $5, $6)
		ON CONFLICT (job_id, step_index) DO NOTHING`, t.jobID, k, id, o, t.job.Attempt, fin)
		return err
	})
	if err != nil {
		return fmt.Errorf("worker: checkpoint step %d of job %s: %w", k, t.jobID, err)
	}
	return nil
}

// noteYield counts a yield of t's job and returns how many yields in a
// row made no progress (progressed: this attempt checkpointed a step).
func (s *Service) noteYield(ctx context.Context, jobID string, progressed bool) (int, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkpointTimeout)
	defer cancel()
	var idle int
	err := retryDB(ctx, func() error {
		return s.pool.QueryRow(ctx, `
		INSERT INTO job_yields (job_id, idle) VALUES ($1::uuid, CASE WHEN $2::boolean THEN 0 ELSE 1 END)
		ON CONFLICT (job_id) DO UPDATE
		   SET idle = CASE WHEN $2::boolean THEN 0 ELSE job_yields.idle + 1 END, yielded_at = now()
		RETURNING idle`, jobID, progressed).Scan(&idle)
	})
	if err != nil {
		return 0, fmt.Errorf("worker: count a yield of job %s: %w", jobID, err)
	}
	return idle, nil
}
