package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// PassResult counts what one pass did.
type PassResult struct {
	Rescued    int `json:"rescued"`    // expired leases failed
	Returned   int `json:"returned"`   // dispatched attempts not started within the queue timeout, taken back
	Woken      int `json:"woken"`      // parked (WAITING) jobs made PENDING at their wake time
	Dispatched int `json:"dispatched"` // Fresh + Retry
	Fresh      int `json:"fresh"`
	Retry      int `json:"retry"`
	Published  int `json:"published"` // outbox rows relayed
}

func (r PassResult) idle() bool {
	return r.Rescued == 0 && r.Returned == 0 && r.Woken == 0 && r.Dispatched == 0 && r.Published == 0
}

func (r *PassResult) add(o PassResult) {
	r.Rescued += o.Rescued
	r.Returned += o.Returned
	r.Woken += o.Woken
	r.Dispatched += o.Dispatched
	r.Fresh += o.Fresh
	r.Retry += o.Retry
	r.Published += o.Published
}

// TickResult sums the passes of one tick.
type TickResult struct {
	Passes int `json:"passes"`
	Failed int `json:"failed"` // passes that returned an error
	PassResult
}

// RunOnce runs one pass: rescue expired leases, take back attempts not
// started within the queue timeout, wake parked jobs that are due,
// dispatch due jobs, drain
// the outbox (and, at most once a minute, forget result event IDs older
// than the dedup window). Each step runs even if an earlier one failed (a broker
// outage must not stop dispatch, which only writes the outbox); the
// errors are joined.
func (s *Service) RunOnce(ctx context.Context) (PassResult, error) {
	var (
		r    PassResult
		errs []error
		err  error
	)
	if r.Rescued, err = s.rescue(ctx); err != nil {
		errs = append(errs, err)
	}
	if r.Returned, err = s.returnUnstarted(ctx); err != nil {
		errs = append(errs, err)
	}
	if r.Woken, err = s.wake(ctx); err != nil {
		errs = append(errs, err)
	}
	if r.Fresh, r.Retry, _, err = s.dispatch(ctx); err != nil {
		errs = append(errs, err)
	}
	r.Dispatched = r.Fresh + r.Retry
	if r.Published, err = s.relay.Drain(ctx); err != nil {
		errs = append(errs, fmt.Errorf("scheduler: relay outbox: %w", err))
	}
	if err := s.prune(ctx); err != nil {
		errs = append(errs, err)
	}
	return r, errors.Join(errs...)
}

// Tick runs passes until TickMargin before ctx's deadline, pausing
// IdlePoll after a pass that did nothing (or failed). It always runs at
// least one pass, so a deadline shorter than the margin still ticks once;
// without a deadline it runs exactly one. A failed pass is logged and the
// loop goes on; the error of the last pass, if it failed, is returned.
func (s *Service) Tick(ctx context.Context) (TickResult, error) {
	defer s.metrics.Flush()
	s.maintainDLQ(ctx)
	var res TickResult
	deadline, hasDeadline := ctx.Deadline()
	// The deadline is wall-clock time, so the loop uses time.Now, not Clock.
	stop := deadline.Add(-s.cfg.TickMargin)
	var last error
	for {
		r, err := s.RunOnce(ctx)
		res.Passes++
		res.add(r)
		last = err
		_ = s.metrics.FlushOlder(tickFlushEvery)
		if err != nil {
			res.Failed++
			if ctx.Err() == nil {
				s.log.ErrorContext(ctx, "tick pass failed", "error", err.Error())
			}
		}
		if !hasDeadline || ctx.Err() != nil || !time.Now().Before(stop) {
			break
		}
		if err != nil || r.idle() {
			s.sleep(ctx, min(s.cfg.IdlePoll, time.Until(stop)))
			if ctx.Err() != nil || !time.Now().Before(stop) {
				break
			}
		}
	}
	s.gaugeOutboxBacklog(ctx)
	s.log.DebugContext(ctx, "tick done", "passes", res.Passes, "failed", res.Failed, "rescued", res.Rescued, "returned", res.Returned,
		"dispatched", res.Dispatched, "published", res.Published)
	return res, last
}

func (s *Service) sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
