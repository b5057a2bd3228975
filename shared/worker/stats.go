package worker

import (
	"context"
	"fmt"
	"net/http"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/outbox"
)

// serveStats is GET internalapi.PathStats: the worker's outbox.
func (s *Service) serveStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.Stats(r.Context())
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	httpjson.Write(w, http.StatusOK, st)
}

// Stats reads what GET /api/system shows of the worker: its outbox rows
// waiting to be published and those parked.
func (s *Service) Stats(ctx context.Context) (internalapi.WorkerStats, error) {
	var st internalapi.WorkerStats
	var err error
	if st.Outbox.Pending, _, err = outbox.Backlog(ctx, s.pool); err != nil {
		return st, fmt.Errorf("worker: count the outbox: %w", err)
	}
	if st.Outbox.Parked, err = outbox.Parked(ctx, s.pool); err != nil {
		return st, fmt.Errorf("worker: count the parked outbox rows: %w", err)
	}
	return st, nil
}
