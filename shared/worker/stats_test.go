package worker_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/jobweaver/jobweaver/shared/apigwtest"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// TestStats: GET /internal/stats counts the outbox rows waiting and
// parked.
func TestStats(t *testing.T) {
	b := setup(t, worker.Config{})
	ctx := context.Background()
	for _, sql := range []string{
		`INSERT INTO outbox (topic, value) VALUES ('job-completed', 'a'), ('job-failed', 'b'), ('job-failed', 'c')`,
		`INSERT INTO outbox_parked (outbox_id, topic, value, created_at, error) VALUES (9, 'job-failed', 'd', now(), 'too large')`,
	} {
		if _, err := b.pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	code, body := apigwtest.Call(ctx, t, b.svc.Handle, http.MethodGet, internalapi.PathStats, "")
	var st internalapi.WorkerStats
	if err := json.Unmarshal(body, &st); err != nil || code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", internalapi.PathStats, code, body)
	}
	if want := (internalapi.OutboxStats{Pending: 3, Parked: 1}); st.Outbox != want {
		t.Fatalf("outbox = %+v, want %+v", st.Outbox, want)
	}
}
