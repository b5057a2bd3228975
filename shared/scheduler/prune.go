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

// prune deletes expired event IDs if the last prune of this service is
// pruneInterval old.
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
	return err
}
