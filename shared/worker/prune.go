package worker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jobweaver/jobweaver/shared/config"
)

// Pruning of durable resume's tables. step_checkpoints, job_yields and
// batch_items gain rows with every job and lose none otherwise. The worker has no
// schedule of its own, so the run-job invocations prune as they go: at
// most every pruneInterval per process, after the batch's results are
// recorded, in statements of at most pruneBatch rows each, for at most
// pruneBudget (and never past the invocation's deadline margin). A
// failed prune is logged and tried again at the next interval; it never
// fails the batch.
//
// A job's checkpoints go together once the newest of them is older than
// Config.CheckpointRetention: a job still running (or parked: a parked
// SLEEP's checkpoint holds its wake time, in the future) keeps every
// checkpoint, however old its first steps are. A BATCH_PROCESS job's
// item results go the same way, once its newest is past the retention. A
// job_yields row goes once its job last yielded longer ago than the
// retention.
const (
	pruneInterval = 30 * time.Second
	pruneBatch    = 1000
	pruneBudget   = time.Second
)

// Retention bounds and default (WORKER_CHECKPOINT_RETENTION). The default,
// 90 days, outlasts everything that may resume a job from its checkpoints:
// a dead-lettered job may be retried from the DLQ while its entry is kept,
// up to twice DLQ_RETENTION (60 days by default) after it failed; the job
// may have parked up to 7 days (a SLEEP, a WAIT_FOR_CALLBACK) and retried
// for up to 20 × 5 minutes before that; 90 days leaves three weeks more.
const (
	DefaultCheckpointRetention = 90 * 24 * time.Hour
	MinCheckpointRetention     = time.Hour
	MaxCheckpointRetention     = 3650 * 24 * time.Hour
)

// PruneResult counts what one prune deleted.
type PruneResult struct {
	Checkpoints int64 // step_checkpoints rows
	Yields      int64 // job_yields rows
	Items       int64 // batch_items rows
}

// pruner remembers when this process last pruned.
type pruner struct{ last atomic.Int64 } // unix nanoseconds

// due claims the prune of this interval: true for one caller per
// pruneInterval.
func (p *pruner) due(now time.Time) bool {
	last := p.last.Load()
	return now.UnixNano()-last >= int64(pruneInterval) && p.last.CompareAndSwap(last, now.UnixNano())
}

// maybePrune prunes if this process has not for pruneInterval, within
// pruneBudget and ctx's deadline margin; errors are logged.
func (s *Service) maybePrune(ctx context.Context) {
	if !s.pruner.due(time.Now()) {
		return
	}
	until := time.Now().Add(pruneBudget)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-s.cfg.DeadlineMargin).Before(until) {
		until = dl.Add(-s.cfg.DeadlineMargin)
	}
	if !time.Now().Before(until) {
		return
	}
	pctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	res, err := s.Prune(pctx, s.cfg.CheckpointRetention, pruneBatch)
	if err != nil && pctx.Err() == nil {
		s.log.WarnContext(ctx, "checkpoints not pruned; tried again later", "error", err.Error())
	}
	if res != (PruneResult{}) {
		s.log.DebugContext(ctx, "checkpoints pruned", "checkpoints", res.Checkpoints, "items", res.Items, "yields", res.Yields)
	}
}

// Prune deletes, batch rows at a time until a statement deletes fewer or
// ctx ends, the checkpoints of jobs whose newest checkpoint finished more
// than retention ago (by the database's clock), then the job_yields rows
// of jobs that last yielded more than retention ago. Concurrent prunes
// skip each other's rows.
func (s *Service) Prune(ctx context.Context, retention time.Duration, batch int) (PruneResult, error) {
	var res PruneResult
	for _, p := range []struct {
		n   *int64
		sql string
	}{{&res.Checkpoints, pruneCheckpoints}, {&res.Items, pruneItems}, {&res.Yields, pruneYields}} {
		for {
			tag, err := s.pool.Exec(ctx, p.sql, float64(retention.Microseconds()), batch)
			if err != nil {
				return res, fmt.Errorf("worker: prune checkpoints older than %s: %w", retention, err)
			}
			*p.n += tag.RowsAffected()
			if tag.RowsAffected() < int64(batch) || ctx.Err() != nil {
				break
			}
		}
	}
	return res, nil
}

// pruneCheckpoints deletes up to $2 checkpoints, oldest first, of jobs
// with no checkpoint newer than now() - $1 µs. It walks
// step_checkpoints_finished_idx; a still running job's old rows are
// passed over, not deleted, so they never stall the walk.
var pruneCheckpoints = pruneByNewest("step_checkpoints", "step_index")

// pruneItems is pruneCheckpoints for batch_items (batch_items_finished_idx).
var pruneItems = pruneByNewest("batch_items", "item_index")

// pruneByNewest is the statement that deletes up to $2 rows of table,
// oldest finished_at first, of jobs none of whose rows finished after
// now() - $1 µs; key is the column that, with job_id, names a row.
func pruneByNewest(table, key string) string {
	return `
DELETE FROM ` + table + ` d USING (
    SELECT c.job_id, c.` + key + ` FROM ` + table + ` c
     WHERE c.finished_at < now() - $1::float8 * interval '1 microsecond'
       AND NOT EXISTS (SELECT 1 FROM ` + table + ` n
                        WHERE n.job_id = c.job_id AND n.finished_at >= now() - $1::float8 * interval '1 microsecond')
     ORDER BY c.finished_at LIMIT $2
     FOR UPDATE OF c SKIP LOCKED) x
 WHERE d.job_id = x.job_id AND d.` + key + ` = x.` + key
}

// pruneYields deletes up to $2 job_yields rows, oldest first, last
// updated before now() - $1 µs.
const pruneYields = `
DELETE FROM job_yields d USING (
    SELECT job_id FROM job_yields
     WHERE yielded_at < now() - $1::float8 * interval '1 microsecond'
     ORDER BY yielded_at LIMIT $2
     FOR UPDATE SKIP LOCKED) x
 WHERE d.job_id = x.job_id`

// retentionFromEnv reads WORKER_CHECKPOINT_RETENTION: a number of days
// (90 or 90d) or a Go duration (2160h).
func retentionFromEnv(env *config.Env) time.Duration {
	v := strings.TrimSpace(env.String("WORKER_CHECKPOINT_RETENTION", ""))
	if v == "" {
		return DefaultCheckpointRetention
	}
	d, err := time.ParseDuration(v)
	if days, derr := strconv.Atoi(strings.TrimSuffix(v, "d")); derr == nil && days >= 0 && days <= 3650 {
		d, err = time.Duration(days)*24*time.Hour, nil
	}
	if err != nil || d < MinCheckpointRetention || d > MaxCheckpointRetention {
		env.Report(config.Invalid("WORKER_CHECKPOINT_RETENTION", "a number of days (90 or 90d) or a Go duration from 1h to 3650 days", v))
		return DefaultCheckpointRetention
	}
	return d
}
