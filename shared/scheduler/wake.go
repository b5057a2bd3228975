package scheduler

import (
	"context"
	"fmt"
)

// wake makes up to BatchSize WAITING jobs whose wake time has come
// PENDING, due now: the dispatch pass that follows claims them from the
// retry queue (they have attempts), on the same fair queues as every
// other job. Jobs other transactions hold are skipped.
func (s *Service) wake(ctx context.Context) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE jobs j SET status = 'PENDING', updated_at = now(), version = j.version + 1
		  FROM (SELECT id FROM jobs WHERE status = 'WAITING' AND next_run_at <= now()
		         ORDER BY next_run_at LIMIT $1 FOR UPDATE SKIP LOCKED) due
		 WHERE j.id = due.id`, s.cfg.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("scheduler: wake parked jobs: %w", err)
	}
	n := int(tag.RowsAffected())
	if n > 0 {
		s.metrics.Count("JobsWoken", n)
		s.log.InfoContext(ctx, "parked jobs woken", "count", n)
	}
	return n, nil
}
