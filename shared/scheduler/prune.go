package scheduler

import (
	"context"
	"fmt"
	"time"
)

// Result event IDs are remembered for deduplication for
// processedEventRetention, well past Kafka's default retention of 7 days
// after which an event can no longer be delivered again. A pass prunes
// older ones at most every pruneInterval, pruneBatch rows at a time.
const (
	processedEventRetention = 14 * 24 * time.Hour
	pruneInterval           = time.Minute
	pruneBatch              = 10_000
)

// processedEventDeleteExpired deletes up to limit event IDs recorded
// before now() - age, oldest first.
func processedEventDeleteExpired(ctx context.Context, q querier, age time.Duration, limit int) (int64, error) {
	tag, err := q.Exec(ctx, `
		DELETE FROM processed_events WHERE event_id IN (
		    SELECT event_id FROM processed_events
		     WHERE processed_at < now() - $1::float8 * interval '1 microsecond'
		     ORDER BY processed_at LIMIT $2)`, float64(age.Microseconds()), limit)
	if err != nil {
		return 0, fmt.Errorf("scheduler: prune processed events: %w", err)
	}
	return tag.RowsAffected(), nil
}

// runningCountFold folds the jobs_running rows of backends that have
// ended into the row of pid 0, so that the sum jobDueCounts reads stays
// a handful of rows (one per live connection). A row of a live backend
// is left alone: its transactions may still add to it. A backend that
// later gets a folded row's pid starts a row of its own.
func runningCountFold(ctx context.Context, q querier) error {
	_, err := q.Exec(ctx, `
		WITH gone AS (
		    DELETE FROM jobs_running
		     WHERE pid <> 0 AND pid NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
		    RETURNING n)
		INSERT INTO jobs_running (pid, n) SELECT 0, coalesce(sum(n), 0) FROM gone
		ON CONFLICT (pid) DO UPDATE SET n = jobs_running.n + excluded.n`)
	if err != nil {
		return fmt.Errorf("scheduler: fold the running count: %w", err)
	}
	return nil
}

// prune deletes expired event IDs, and folds the running count's rows of
// ended backends, if the last prune of this service is pruneInterval
// old.
func (s *Service) prune(ctx context.Context) error {
	now := s.now().UnixNano()
	last := s.lastPrune.Load()
	if now-last < int64(pruneInterval) || !s.lastPrune.CompareAndSwap(last, now) {
		return nil
	}
	n, err := processedEventDeleteExpired(ctx, s.pool, processedEventRetention, pruneBatch)
	if n > 0 {
		s.log.DebugContext(ctx, "processed events pruned", "deleted", n)
	}
	if err != nil {
		return err
	}
	return runningCountFold(ctx, s.pool)
}
