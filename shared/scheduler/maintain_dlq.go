package scheduler

import (
	"context"
	"net/http"

	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
)

// maintainDLQ starts the tick's call of the dlq's maintenance route
// (bulk operations, in chunks, resumed after a crash; retention) beside
// the tick's passes, and returns the wait for it, which the tick defers.
// A failed call is logged: the next tick calls again.
func (s *Service) maintainDLQ(ctx context.Context) (wait func()) {
	if s.cfg.DLQ == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		status, body, err := invoke.HTTP(ctx, s.cfg.DLQ, invoke.DLQ, http.MethodPost, internalapi.PathMaintain, nil, nil)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "dlq maintenance call failed; the next tick calls again", "error", err.Error())
			}
		case status != http.StatusOK:
			s.log.WarnContext(ctx, "dlq maintenance call failed; the next tick calls again", "status", status, "body", string(body))
		}
	}()
	return func() { <-done }
}
