package scheduler

import (
	"context"
	"time"

	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/outbox"
)

const (
	// A tick loops passes for most of a minute; it writes its metrics at
	// least this often rather than all at its end.
	tickFlushEvery = 10 * time.Second
	// While jobs are left due after a pass, the backlog is measured at
	// most this often, counting up to backlogCountCap jobs per queue.
	backlogEvery    = time.Second
	backlogCountCap = 10_000
)

// millis is d in milliseconds, 0 if negative (the api's clock may run
// ahead of the scheduler's database).
func millis(d time.Duration) float64 {
	return max(float64(d.Microseconds())/1000, 0)
}

// gaugeDueBacklog records DueBacklog and OldestDueAgeSeconds after a
// dispatch pass. The pass's own counts tell whether jobs may be left due;
// if none are, both are 0 at no cost. Otherwise they are measured, at most
// once a second.
func (s *Service) gaugeDueBacklog(ctx context.Context, left bool) {
	if !s.metrics.Enabled() {
		return
	}
	if !left {
		s.metrics.Gauge("DueBacklog", 0, metrics.Count)
		s.metrics.Gauge("OldestDueAgeSeconds", 0, metrics.Seconds)
		return
	}
	now, last := time.Now().UnixNano(), s.lastBacklog.Load()
	if now-last < int64(backlogEvery) || !s.lastBacklog.CompareAndSwap(last, now) {
		return
	}
	n, oldest, err := jobDueBacklog(ctx, s.pool, backlogCountCap)
	if err != nil {
		return
	}
	s.metrics.Gauge("DueBacklog", float64(n), metrics.Count)
	s.metrics.Gauge("OldestDueAgeSeconds", oldest.Seconds(), metrics.Seconds)
}

// gaugeOutboxBacklog records the outbox rows left after a drain: more
// than a few means publishing falls behind or fails.
func (s *Service) gaugeOutboxBacklog(ctx context.Context) {
	if !s.metrics.Enabled() {
		return
	}
	if n, _, err := outbox.Backlog(ctx, s.pool); err == nil {
		s.metrics.Gauge("OutboxBacklog", float64(n), metrics.Count)
	}
	if n, err := outbox.Parked(ctx, s.pool); err == nil {
		s.metrics.Gauge("OutboxParked", float64(n), metrics.Count)
	}
}
