package scheduler

import (
	"context"
	"fmt"
)

// wakeFactor is how many dispatch batches of parked jobs one pass wakes
// at most. Waking is one cheap status flip per job, and a woken job waits
// its turn on the fair queues like any other due one, so a pass wakes
// more than it dispatches: 1,000 jobs parked until the same second (by
// default) all wake in one pass instead of one batch per tick (the park
// bench: 1,000 took 10 ticks, p50 25 s for a 20 s SLEEP, before).
const wakeFactor = 10

// maxWake bounds one wake statement (SCHEDULER_BATCH_SIZE goes to 10,000;
// ten times that in one UPDATE would hold its locks too long).
const maxWake = 10_000

// wake makes up to wakeFactor × BatchSize (at most maxWake) WAITING jobs whose wake time
// has come PENDING, due now: the dispatch passes that follow claim them
// from the retry queue (they have attempts), on the same fair queues as
// every other job. Jobs other transactions hold are skipped.
func (s *Service) wake(ctx context.Context) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE jobs j SET status = 'PENDING', updated_at = now(), version = j.version + 1
		  FROM (SELECT id FROM jobs WHERE status = 'WAITING' AND next_run_at <= now()
		         ORDER BY next_run_at LIMIT $1 FOR UPDATE SKIP LOCKED) due
		 WHERE j.id = due.id`, min(wakeFactor*s.cfg.BatchSize, maxWake))
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
