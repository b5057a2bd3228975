package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/testwait"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// withDLQ replaces the bundle's fake dlq by the real one, on its own
// database; its retries reach the bundle's fake scheduler.
func withDLQ(tb testing.TB, b *bundle) *pgxpool.Pool {
	tb.Helper()
	pool := pgtest.Pool(tb, dlq.Migrations())
	svc, err := dlq.New(dlq.Config{Scheduler: b.local}, &wiring.Deps{Pool: pool, Log: logging.Discard()})
	if err != nil {
		tb.Fatal(err)
	}
	b.local.Register(invoke.DLQ, trigger.HandleFunc(svc.Handle))
	return pool
}

// addEntry stores an entry of reason and job type with SQL and returns
// its ID and job ID.
func addEntry(tb testing.TB, pool *pgxpool.Pool, reason, jobType string) (string, string) {
	tb.Helper()
	id, job := uuid.NewString(), uuid.NewString()
	if reason == dlq.ReasonPoisonRecord {
		job = ""
	}
	if _, err := pool.Exec(context.Background(), `INSERT INTO dead_letters (event_id, job_id, trace_id, job_type, reason, failed_at)
		VALUES ($1, NULLIF($2, '')::uuid, 't', $3, $4, now())`, id, job, jobType, reason); err != nil {
		tb.Fatal(err)
	}
	return id, job
}

func decodeAs[T any](tb testing.TB, body []byte) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		tb.Fatalf("%v: %s", err, body)
	}
	return v
}

// TestDLQActions: single retry and dismiss through the api and the real
// dlq function, with each refusal in the api's error body.
func TestDLQActions(t *testing.T) {
	b := setup(t, Config{})
	pool := withDLQ(t, b)
	b.sched.on("POST "+internalapi.PathJobRetry, http.StatusAccepted, internalapi.JobRetryResponse{Status: "PENDING", NextAttempt: 4})
	entry, job := addEntry(t, pool, "RETRIES_EXHAUSTED", "A")
	other, _ := addEntry(t, pool, "RETRIES_EXHAUSTED", "A")
	poison, _ := addEntry(t, pool, dlq.ReasonPoisonRecord, "")

	w := b.do(http.MethodPost, "/api/dlq/"+entry+"/retry", "")
	got := decodeAs[internalapi.ActionResponse](t, w.Body.Bytes())
	if w.Code != http.StatusAccepted || got != (internalapi.ActionResponse{DLQID: entry, JobID: job, Status: "RETRIED"}) {
		t.Fatalf("retry: %d %s", w.Code, w.Body)
	}
	calls := b.sched.received()
	if len(calls) != 1 || calls[0].Path != internalapi.JobRetryPath(job) || !strings.Contains(calls[0].Body, `"dlqId":"`+entry+`"`) ||
		!strings.Contains(calls[0].Body, `"by":"anonymous"`) {
		t.Fatalf("scheduler got %+v", calls)
	}
	e := wantError(t, b.do(http.MethodPost, "/api/dlq/"+entry+"/retry", ""), http.StatusConflict, "API.DLQ_ENTRY_NOT_NEW")
	if !strings.Contains(e.Message, "RETRIED") {
		t.Fatalf("message %q does not say RETRIED", e.Message)
	}
	wantError(t, b.do(http.MethodPost, "/api/dlq/"+entry+"/dismiss", ""), http.StatusConflict, "API.DLQ_ENTRY_NOT_NEW")
	wantError(t, b.do(http.MethodPost, "/api/dlq/"+poison+"/retry", ""), http.StatusConflict, "API.DLQ_ENTRY_NOT_RETRYABLE")
	wantError(t, b.do(http.MethodPost, "/api/dlq/"+uuid.NewString()+"/retry", ""), http.StatusNotFound, "API.DLQ_ENTRY_NOT_FOUND")
	wantError(t, b.do(http.MethodPost, "/api/dlq/"+uuid.NewString()+"/dismiss", ""), http.StatusNotFound, "API.DLQ_ENTRY_NOT_FOUND")
	wantError(t, b.do(http.MethodPost, "/api/dlq/nope/dismiss", ""), http.StatusBadRequest, "API.INVALID_REQUEST")

	w = b.do(http.MethodPost, "/api/dlq/"+poison+"/dismiss", "")
	if got := decodeAs[internalapi.ActionResponse](t, w.Body.Bytes()); w.Code != http.StatusOK || got.Status != "DISMISSED" || got.DLQID != poison {
		t.Fatalf("dismiss: %d %s", w.Code, w.Body)
	}
	e = wantError(t, b.do(http.MethodPost, "/api/dlq/"+poison+"/dismiss", ""), http.StatusConflict, "API.DLQ_ENTRY_NOT_NEW")
	if !strings.Contains(e.Message, "DISMISSED") {
		t.Fatalf("message %q does not say DISMISSED", e.Message)
	}

	b.sched.fail(errors.New("scheduler down"))
	wantError(t, b.do(http.MethodPost, "/api/dlq/"+other+"/retry", ""), http.StatusServiceUnavailable, "API.SCHEDULER_UNAVAILABLE")
	b.sched.fail(nil)
	b.sched.on("POST "+internalapi.PathJobRetry, http.StatusConflict, map[string]any{"errorCode": internalapi.CodeJobNotRetryable, "message": "the job is RUNNING"})
	e = wantError(t, b.do(http.MethodPost, "/api/dlq/"+other+"/retry", ""), http.StatusConflict, "API.DLQ_ENTRY_NOT_RETRYABLE")
	if !strings.Contains(e.Message, "RUNNING") {
		t.Fatalf("message %q", e.Message)
	}

	// The list shows what the actions did, and filters by it.
	w = b.do(http.MethodGet, "/api/dlq?status=RETRIED", "")
	page := decodeAs[struct {
		Content []internalapi.DeadLetter `json:"content"`
	}](t, w.Body.Bytes())
	if w.Code != http.StatusOK || len(page.Content) != 1 || page.Content[0].ID != entry || page.Content[0].ResolvedAt == nil ||
		page.Content[0].ResolvedBy != "anonymous" || page.Content[0].RetriedJobAttempt == nil || *page.Content[0].RetriedJobAttempt != 4 {
		t.Fatalf("list of RETRIED: %d %s", w.Code, w.Body)
	}
	e = wantError(t, b.do(http.MethodGet, "/api/dlq?status=OPEN", ""), http.StatusBadRequest, "API.INVALID_REQUEST")
	if len(e.Details) != 1 || !strings.HasPrefix(e.Details[0], "status: ") {
		t.Fatalf("details %v", e.Details)
	}
	wantError(t, b.do(http.MethodGet, "/api/dlq?from=monday", ""), http.StatusBadRequest, "API.INVALID_REQUEST")
}

// TestDLQBulk: a bulk dismiss by filter and a bulk retry by IDs answer
// 202 with an operation, which finishes on its own (the api starts the
// dlq's maintenance); bad bodies are 400s naming the field.
func TestDLQBulk(t *testing.T) {
	b := setup(t, Config{})
	pool := withDLQ(t, b)
	b.sched.on("POST "+internalapi.PathJobRetry, http.StatusAccepted, internalapi.JobRetryResponse{Status: "PENDING", NextAttempt: 2})
	for range 30 {
		addEntry(t, pool, "RETRIES_EXHAUSTED", "BULK")
	}
	keep, _ := addEntry(t, pool, "RETRIES_EXHAUSTED", "OTHER")
	var ids []string
	for range 3 {
		id, _ := addEntry(t, pool, "PERMANENT_FAILURE", "IDS")
		ids = append(ids, id)
	}
	toJSON := func(v any) string { b, _ := json.Marshal(v); return string(b) }

	for _, c := range []struct {
		path, body string
		total      int
		want       string
	}{
		{"/api/dlq/dismiss", `{"filter":{"jobType":"BULK","status":"NEW"}}`, 30, "DLQ_DISMISS"},
		{"/api/dlq/retry", toJSON(map[string]any{"ids": append(ids, uuid.NewString())}), 4, "DLQ_RETRY"},
	} {
		w := b.do(http.MethodPost, c.path, c.body, "Content-Type", "application/json")
		created := decodeAs[internalapi.OperationCreated](t, w.Body.Bytes())
		if w.Code != http.StatusAccepted || created.OperationID == "" {
			t.Fatalf("%s: %d %s", c.path, w.Code, w.Body)
		}
		var op internalapi.Operation
		testwait.EventuallyState(t, 30*time.Second, "the operation finishes", func() bool {
			w := b.do(http.MethodGet, "/api/operations/"+created.OperationID, "")
			op = decodeAs[internalapi.Operation](t, w.Body.Bytes())
			return w.Code == http.StatusOK && op.Status != "RUNNING"
		}, func() string { return op.Status })
		wantDone := c.total
		if c.want == "DLQ_RETRY" {
			wantDone = 3
		}
		if op.Kind != c.want || op.Status != "COMPLETED" || op.Total != c.total || op.Done != wantDone || op.FinishedAt == nil || op.StartedAt.IsZero() {
			t.Fatalf("%s: operation %+v", c.path, op)
		}
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM dead_letters WHERE status = 'NEW'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d entries still NEW (%v); want only %s", n, err, keep)
	}

	for _, c := range []struct{ body, detail string }{
		{`{}`, "ids"},
		{`{"ids":[]}`, "ids"},
		{`{"ids":["nope"]}`, "ids[0]"},
		{`{"filter":{"status":"OPEN"}}`, "filter.status"},
		{`{"filter":{"status":"RETRIED"}}`, "filter.status"},
		{`{"filter":{"from":"2026-12-02T00:00:00Z","to":"2026-12-01T00:00:00Z"}}`, "filter.from"},
		{`{"ids":["` + keep + `"],"filter":{}}`, "ids"},
	} {
		e := wantError(t, b.do(http.MethodPost, "/api/dlq/retry", c.body, "Content-Type", "application/json"), http.StatusBadRequest, "API.INVALID_REQUEST")
		if len(e.Details) == 0 || !strings.HasPrefix(e.Details[0], c.detail+": ") {
			t.Errorf("%s: details %v; want %s", c.body, e.Details, c.detail)
		}
	}
	for _, body := range []string{`{"IDS":["` + keep + `"]}`, `{"colour":1}`, `[1]`, `{"ids":["` + keep + `"]} {}`, `{"filter":{"from":"monday"}}`} {
		wantError(t, b.do(http.MethodPost, "/api/dlq/dismiss", body, "Content-Type", "application/json"), http.StatusBadRequest, "API.INVALID_REQUEST")
	}
	wantError(t, b.do(http.MethodGet, "/api/operations/"+uuid.NewString(), ""), http.StatusNotFound, "API.OPERATION_NOT_FOUND")
	wantError(t, b.do(http.MethodGet, "/api/operations/nope", ""), http.StatusBadRequest, "API.INVALID_REQUEST")
}
