package scheduler

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// dispatchLockKey is the advisory lock that serializes dispatch passes, so
// that concurrent passes together never claim more than MaxInFlight.
const dispatchLockKey int64 = 0x4a57_5343_4844 // "JWSCHD"

// dispatch runs one dispatch pass: it claims up to min(BatchSize,
// MaxInFlight - running) due jobs, split fairly between the fresh and
// retry queues, and writes their run-job events to the outbox in the same
// transaction. It does not publish them.
func (s *Service) dispatch(ctx context.Context) (fresh, retry int, err error) {
	if s.cfg.MaxInFlight <= 0 {
		return 0, 0, nil
	}
	var (
		m         metrics.Pending // counts once the transaction commits
		due       int             // due jobs counted (each queue up to BatchSize)
		saturated bool            // a queue has at least BatchSize due
	)
	spans := &batchSpans{}
	defer func() { spans.end(err) }()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, dispatchLockKey); err != nil {
			return fmt.Errorf("scheduler: take dispatch lock: %w", err)
		}
		running, freshDue, retryDue, err := jobDueCounts(ctx, tx, s.cfg.BatchSize)
		if err != nil {
			return err
		}
		due, saturated = freshDue+retryDue, freshDue >= s.cfg.BatchSize || retryDue >= s.cfg.BatchSize
		n := min(s.cfg.BatchSize, s.cfg.MaxInFlight-running)
		wantFresh, wantRetry := fairSplit(n, s.cfg.FreshRatio, freshDue, retryDue)
		if wantFresh+wantRetry == 0 {
			return nil
		}
		claimed, err := jobClaimDue(ctx, tx, wantFresh, wantRetry)
		if err != nil {
			return err
		}
		envs := make([]envelope.Envelope, 0, len(claimed))
		for _, c := range claimed {
			e, err := c.runJob()
			if err != nil {
				return err
			}
			e.TraceParent = spans.startDispatchSpan(ctx, c)
			envs = append(envs, e)
			jt := metrics.Dim("JobType", c.JobType)
			m.Count("JobsDispatched", 1, jt)
			m.Value("DispatchLatency", millis(c.DispatchedAt.Sub(c.NextRunAt)), metrics.Milliseconds, jt)
			if c.Attempts == 1 {
				fresh++
				m.Value("FreshJobWait", millis(c.DispatchedAt.Sub(c.CreatedAt)), metrics.Milliseconds, jt)
			} else {
				retry++
			}
			s.log.DebugContext(trace.With(ctx, c.TraceID, c.ID), "job dispatched",
				"attempt", c.Attempts, "eventId", e.EventID)
		}
		return outbox.Add(ctx, tx, envs...)
	})
	if err != nil {
		return 0, 0, err
	}
	s.metrics.Commit(&m)
	s.gaugeDueBacklog(ctx, due > fresh+retry || saturated)
	return fresh, retry, nil
}
