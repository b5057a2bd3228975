package scheduler

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/outbox"
)

// rescue fails the attempts of up to BatchSize RUNNING jobs whose lease
// ran out (attempts a worker started and never reported), as if the worker had reported SCHEDULER.LEASE_EXPIRED: each is
// retried or, out of retries, FAILED and dead-lettered.
func (s *Service) rescue(ctx context.Context) (int, error) {
	n := 0
	var m metrics.Pending
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		expired, err := jobLeaseExpiredLock(ctx, tx, s.cfg.BatchSize)
		if err != nil || len(expired) == 0 {
			return err
		}
		b := s.newOutcomeBatch(&m)
		for i := range expired {
			j := &expired[i]
			if b.add(ctx, j, attemptOutcome{
				Attempt:   j.Attempts,
				Outcome:   OutcomeLeaseExpired,
				ErrorCode: CodeLeaseExpired,
				Error:     fmt.Sprintf("attempt %d started but sent no result within its lease of %s", j.Attempts, s.cfg.Lease),
			}) {
				n++
			}
		}
		dead, err := b.write(ctx, tx)
		if err != nil {
			return err
		}
		return outbox.Add(ctx, tx, dead...)
	})
	if err != nil {
		return 0, err
	}
	s.metrics.Commit(&m)
	return n, nil
}
