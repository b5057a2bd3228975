package dlq_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/jobweaver/jobweaver/shared/apigwtest"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// TestStats: GET /internal/stats counts the NEW entries only (a replayed
// mapping failure is not open) and the outbox, pending and parked.
func TestStats(t *testing.T) {
	svc, pool := setup(t, dlq.Config{})
	ctx := context.Background()
	stats := func() internalapi.DLQStats {
		t.Helper()
		code, body := apigwtest.Call(ctx, t, svc.Handle, http.MethodGet, internalapi.PathStats, "")
		var st internalapi.DLQStats
		if err := json.Unmarshal(body, &st); err != nil || code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", internalapi.PathStats, code, body)
		}
		return st
	}
	if st := stats(); st != (internalapi.DLQStats{}) {
		t.Fatalf("empty dlq: %+v", st)
	}

	a, b := deadLetter(t, "RETRIES_EXHAUSTED"), deadLetter(t, "PERMANENT_FAILURE")
	if err := svc.HandleKafka(ctx, batch(0, a, b)); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`INSERT INTO dead_letters (event_id, reason, status) VALUES (gen_random_uuid(), 'MAPPING_FAILURE', 'REPLAYED')`,
		`INSERT INTO outbox (topic, value) VALUES ('job-created', 'x')`,
		`INSERT INTO outbox_parked (outbox_id, topic, value, created_at, error) VALUES (1, 'job-created', 'y', now(), 'too large')`,
		`INSERT INTO outbox_parked (outbox_id, topic, value, created_at, error) VALUES (2, 'job-created', 'z', now(), 'too large')`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	want := internalapi.DLQStats{Open: 2, Outbox: internalapi.OutboxStats{Pending: 1, Parked: 2}}
	if st := stats(); st != want {
		t.Fatalf("stats = %+v, want %+v", st, want)
	}
}
