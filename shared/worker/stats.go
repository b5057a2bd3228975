package worker

import (
	"context"
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
	st.Outbox.Pending, st.Outbox.Parked, err = outbox.Counts(ctx, s.pool)
	return st, err
}
