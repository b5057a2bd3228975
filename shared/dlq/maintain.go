package dlq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// maintainMargin is kept free before an invocation's deadline.
const maintainMargin = 2 * time.Second

// pruneEvery is how often Maintain prunes (per instance): retention is
// counted in days, and the scheduler's tick calls Maintain every minute
// (every second under make run).
const pruneEvery = 30 * time.Second

// Maintain is the maintenance route's pass (POST /internal/dlq/maintain):
// it works on the running bulk operations chunk by chunk, then prunes the
// entries retention removes (at most every 30 s), until MaintainBudget is
// spent or shortly before ctx's deadline. It always does at least one
// chunk of each. The api calls it (asynchronously) when it creates an
// operation, and the scheduler's tick every time, so an operation a crash
// interrupted resumes from its last committed chunk.
func (s *Service) Maintain(ctx context.Context) (internalapi.MaintainResult, error) {
	var res internalapi.MaintainResult
	deadline := time.Now().Add(s.cfg.MaintainBudget)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-maintainMargin).Before(deadline) {
		deadline = dl.Add(-maintainMargin)
	}
	var errs []error
	for {
		ran, finished, err := s.RunChunk(ctx, deadline)
		if err != nil {
			errs = append(errs, err)
			break
		}
		if !ran {
			break
		}
		res.Chunks++
		if finished {
			res.Operations++
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
	}
	if last := s.lastPrune.Load(); time.Since(time.Unix(0, last)) >= pruneEvery {
		s.lastPrune.Store(time.Now().UnixNano())
		n, err := s.PruneUntil(ctx, deadline)
		res.Pruned = n
		if err != nil {
			errs = append(errs, err)
		}
	}
	if res.Chunks > 0 || res.Pruned > 0 {
		s.log.InfoContext(ctx, "dlq maintenance", "chunks", res.Chunks, "operationsFinished", res.Operations, "pruned", res.Pruned)
	}
	return res, errors.Join(errs...)
}

// resolved are the statuses retention removes after Retention; every
// other entry (NEW, PARTLY_REPLAYED) is removed after twice it.
var resolved = []string{StatusRetried, StatusDismissed, StatusReplayed}

// PruneUntil removes, in chunks of ChunkSize (each its own statement),
// the entries past retention: resolved ones (RETRIED, DISMISSED,
// REPLAYED) received more than Retention ago, any older than twice
// Retention, and beyond MaxEntries (when set) the oldest. Finished
// operations are kept for Retention too. It does at least one chunk of
// each kind and stops at deadline; it returns how many entries it
// removed.
func (s *Service) PruneUntil(ctx context.Context, deadline time.Time) (int, error) {
	total := 0
	chunks := func(name, sql string, args ...any) error {
		for {
			tag, err := s.pool.Exec(ctx, sql, append([]any{s.cfg.ChunkSize}, args...)...)
			if err != nil {
				return fmt.Errorf("dlq: prune %s: %w", name, err)
			}
			total += int(tag.RowsAffected())
			if int(tag.RowsAffected()) < s.cfg.ChunkSize || !time.Now().Before(deadline) {
				return nil
			}
		}
	}
	now := time.Now()
	retention := s.cfg.Retention
	if err := chunks("resolved", `DELETE FROM dead_letters WHERE event_id IN (
		SELECT event_id FROM dead_letters WHERE status = ANY($2) AND received_at < $3 LIMIT $1)`,
		resolved, now.Add(-retention)); err != nil {
		return total, err
	}
	if err := chunks("old", `DELETE FROM dead_letters WHERE event_id IN (
		SELECT event_id FROM dead_letters WHERE received_at < $2 ORDER BY received_at LIMIT $1)`,
		now.Add(-2*retention)); err != nil {
		return total, err
	}
	if s.cfg.MaxEntries > 0 {
		// The newest MaxEntries stay; the oldest beyond them go first.
		if err := chunks("over the cap", `DELETE FROM dead_letters WHERE event_id IN (
			SELECT d.event_id FROM dead_letters d,
			       (SELECT received_at, event_id FROM dead_letters ORDER BY received_at DESC, event_id DESC OFFSET $2 LIMIT 1) c
			 WHERE (d.received_at, d.event_id) <= (c.received_at, c.event_id)
			 ORDER BY d.received_at, d.event_id LIMIT $1)`, s.cfg.MaxEntries); err != nil {
			return total, err
		}
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM operations WHERE id IN (
		SELECT id FROM operations WHERE status <> 'RUNNING' AND finished_at < $2 LIMIT $1)`,
		s.cfg.ChunkSize, now.Add(-retention)); err != nil {
		return total, fmt.Errorf("dlq: prune operations: %w", err)
	}
	if total > 0 {
		s.log.InfoContext(ctx, "dead letters pruned", "count", total)
	}
	return total, nil
}
