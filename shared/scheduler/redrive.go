package scheduler

import (
	"context"
	"fmt"

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
		envs := make([]envelope.Envelope, 0, len(jobs))
		for _, j := range jobs {
			e, err := envelope.New(envelope.TypeRunJob, j.TraceID, j.ID, envelope.RunJob{
				JobSpec:      envelope.JobSpec{JobType: j.JobType, Payload: j.Payload, MaxRetryCount: j.MaxRetryCount},
				Attempt:      j.Attempts,
				DispatchedAt: j.DispatchedAt.UTC(),
			})
			if err != nil {
				return err
			}
			e.EventID = j.DispatchID
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
