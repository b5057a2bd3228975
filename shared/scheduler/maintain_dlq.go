package scheduler

import (
	"context"
	"net/http"
	"time"

	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
)

// dlqMaintainEvery is how often a scheduler instance starts the dlq's
// maintenance at most: every tick in AWS (one a minute), every few
// seconds under make run (a tick a second, or faster in tests).
const dlqMaintainEvery = 5 * time.Second

// maintainDLQ starts the dlq's maintenance route (bulk operations, in
// chunks, resumed after a crash; retention) without waiting for it: an
// asynchronous invocation (Lambda's Event type; a goroutine in-process),
// so that it runs on the dlq's own time and never holds up the tick. A
// failure to start it is logged: the next tick starts it again.
func (s *Service) maintainDLQ(ctx context.Context) {
	if s.cfg.DLQ == nil {
		return
	}
	now := time.Now().UnixNano()
	last := s.lastDLQMaintain.Load()
	if now-last < int64(dlqMaintainEvery) || !s.lastDLQMaintain.CompareAndSwap(last, now) {
		return
	}
	if err := invoke.HTTPAsync(ctx, s.cfg.DLQ, invoke.DLQ, http.MethodPost, internalapi.PathMaintain, nil, nil); err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "could not start the dlq's maintenance; the next tick tries again", "error", err.Error())
	}
}
