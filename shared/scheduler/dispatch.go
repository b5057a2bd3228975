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
// transaction. It does not publish them: it returns their outbox rows'
// IDs, for Relay.DrainRows. With no job due it claims nothing and takes
// no lock.
func (s *Service) dispatch(ctx context.Context) (fresh, retry int, rows []int64, err error) {
	if s.cfg.MaxInFlight <= 0 {
		return 0, 0, nil, nil
	}
	var (
		m         metrics.Pending // counts once the transaction commits
		due       int             // due jobs counted (each queue up to BatchSize)
		saturated bool            // a queue has at least BatchSize due
	)
	spans := &batchSpans{}
	defer func() { spans.end(err) }()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// With no job due there is nothing to claim: the pass ends
		// without taking the lock, so that no ingest that dispatches
		// (consume) waits for it. A job that becomes due later is seen
		// by the pass its ingest or result owes, or by the tick's.
		var locked bool
		if err := tx.QueryRow(ctx, `
			SELECT CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE status = 'PENDING' AND attempts = 0 AND next_run_at <= now())
			              OR EXISTS (SELECT 1 FROM jobs WHERE status = 'PENDING' AND attempts > 0 AND next_run_at <= now())
			            THEN (SELECT true FROM pg_advisory_xact_lock($1)) ELSE false END`, dispatchLockKey).Scan(&locked); err != nil {
			return fmt.Errorf("scheduler: take dispatch lock: %w", err)
		}
		if !locked {
			return nil
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
		if err := attachClaimedCallbacks(ctx, tx, claimed); err != nil {
			return err
		}
		var envs []envelope.Envelope
		envs, fresh, retry, err = s.dispatched(ctx, claimed, spans, &m)
		if err != nil {
			return err
		}
		rows, err = outbox.Insert(ctx, tx, envs...)
		return err
	})
	if err != nil {
		return 0, 0, nil, err
	}
	s.metrics.Commit(&m)
	s.gaugeDueBacklog(ctx, due > fresh+retry || saturated)
	return fresh, retry, rows, nil
}

// dispatched builds the run-job events of claimed jobs, each with its
// dispatch span's traceparent, and counts and logs their dispatch (the
// metrics go to m). It returns the events and how many of the jobs are
// fresh (attempt 1) and how many retries. A dispatch pass and an ingest
// that dispatches (consume) share it, so that their dispatches look the
// same downstream.
func (s *Service) dispatched(ctx context.Context, claimed []claimedJob, spans *batchSpans, m *metrics.Pending) (
	envs []envelope.Envelope, fresh, retry int, err error,
) {
	envs = make([]envelope.Envelope, 0, len(claimed))
	for _, c := range claimed {
		e, err := c.runJob()
		if err != nil {
			return nil, 0, 0, err
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
	return envs, fresh, retry, nil
}

// dispatchSoon runs the dispatch pass that HandleKafka owes its batch,
// unless one of this process is running already: then it asks that one to
// run another after it and returns at once. The pass asked for starts
// after the caller's batch committed, so it sees the batch's jobs. Passes
// are serialized by the dispatch lock anyway; without this, the local
// stack's concurrent invocations (every poller of every mapping, one
// process) queued on that lock, each holding its batch, its offsets and a
// connection, to find little left to claim. In Lambda a process runs one
// invocation at a time, so every call runs its own pass, as before.
//
// A caller runs at most maxOwedPasses passes for others, so that a steady
// stream of asks does not hold its own batch; what is still asked for
// then, or after a failed pass (returned to the invocation that ran it),
// goes to the next call or the tick's next pass.
//
// It returns the outbox rows of the passes it ran, for the caller to
// publish (Relay.DrainRows), even when a later pass failed.
func (s *Service) dispatchSoon(ctx context.Context) (rows []int64, err error) {
	s.dispatchWanted.Store(true)
	for passes := 0; passes < maxOwedPasses && s.dispatchWanted.Load(); {
		if !s.dispatching.TryLock() {
			return rows, nil // the running pass's owner runs ours next
		}
		for ; err == nil && passes < maxOwedPasses && s.dispatchWanted.Swap(false); passes++ {
			var more []int64
			_, _, more, err = s.dispatch(ctx)
			rows = append(rows, more...)
		}
		s.dispatching.Unlock()
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// maxOwedPasses bounds the dispatch passes one HandleKafka call runs.
const maxOwedPasses = 4
