package dlq

import (
	"context"
	"fmt"
	"net/http"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/outbox"
)

// serveStats is GET internalapi.PathStats: the open entries and the
// outbox.
func (s *Service) serveStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.Stats(r.Context())
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	httpjson.Write(w, http.StatusOK, st)
}

// Stats reads what GET /api/system shows of the dlq: the entries still
// NEW (nobody retried or dismissed them) and its outbox (the same shape
// as every service's; the dlq publishes nothing through it).
func (s *Service) Stats(ctx context.Context) (internalapi.DLQStats, error) {
	var st internalapi.DLQStats
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM dead_letters WHERE status = 'NEW'`).Scan(&st.Open); err != nil {
		return st, fmt.Errorf("dlq: count the open entries: %w", err)
	}
	var err error
	st.Outbox.Pending, st.Outbox.Parked, err = outbox.Counts(ctx, s.pool)
	return st, err
}
