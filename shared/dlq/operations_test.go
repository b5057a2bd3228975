package dlq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// statusCounts counts entries by status.
func statusCounts(ctx context.Context, tb testing.TB, b opsBundle) map[string]int {
	tb.Helper()
	rows, err := b.pool.Query(ctx, `SELECT status, count(*) FROM dead_letters GROUP BY status`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			tb.Fatal(err)
		}
		out[s] = n
	}
	return out
}

func (b opsBundle) create(ctx context.Context, tb testing.TB, req internalapi.OperationRequest) string {
	tb.Helper()
	body, _ := json.Marshal(req)
	status, out := b.call(ctx, tb, http.MethodPost, internalapi.PathOperations, string(body))
	id, _ := out["operationId"].(string)
	if status != http.StatusAccepted || id == "" {
		tb.Fatalf("create %+v: %d %v", req, status, out)
	}
	return id
}

func (b opsBundle) op(ctx context.Context, tb testing.TB, id string) dlq.Operation {
	tb.Helper()
	op, err := b.svc.GetOperation(ctx, id)
	if err != nil {
		tb.Fatal(err)
	}
	return op
}

// TestBulkDismissByFilterAt100k: a dismiss of every open entry of 100,000
// finishes in chunks; killed after a few chunks (a cancelled invocation
// mid-chunk, then a new instance), it resumes from its cursor, and each
// entry is dismissed once. Entries received after the operation started
// are left alone.
func TestBulkDismissByFilterAt100k(t *testing.T) {
	b := setupOps(t, dlq.Config{})
	ctx := context.Background()
	seed(ctx, t, b.pool, 100_000)
	before := statusCounts(ctx, t, b)
	open := before[dlq.StatusNew]

	id := b.create(ctx, t, internalapi.OperationRequest{Kind: internalapi.OperationDismiss, Filter: &dlq.Filter{}})
	late := b.store(ctx, t, "RETRIES_EXHAUSTED") // received after the snapshot
	if op := b.op(ctx, t, id); op.Status != internalapi.OperationRunning || op.Total != open || op.Done != 0 || op.FinishedAt != nil {
		t.Fatalf("new operation = %+v; want RUNNING over %d", op, open)
	}

	far := time.Now().Add(time.Hour)
	for range 3 {
		if ran, _, err := b.svc.RunChunk(ctx, far); !ran || err != nil {
			t.Fatalf("chunk: %v %v", ran, err)
		}
	}
	if op := b.op(ctx, t, id); op.Done != 3*dlq.DefaultChunkSize {
		t.Fatalf("after 3 chunks: %+v", op)
	}
	// The crash: an invocation whose context ends mid-chunk commits
	// nothing.
	dead, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := b.svc.RunChunk(dead, far); err == nil {
		t.Fatal("a chunk with a dead context succeeded")
	}
	if op := b.op(ctx, t, id); op.Done != 3*dlq.DefaultChunkSize || op.Status != internalapi.OperationRunning {
		t.Fatalf("after the crash: %+v", op)
	}

	// A new instance resumes: the maintenance route, called in a loop as
	// the tick does, until the operation is done.
	fresh := setupOn(t, b)
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("the operation never finished")
		}
		status, out := fresh.call(ctx, t, http.MethodPost, internalapi.PathMaintain, "")
		if status != http.StatusOK {
			t.Fatalf("maintain: %d %v", status, out)
		}
		if op := fresh.op(ctx, t, id); op.Status != internalapi.OperationRunning {
			break
		}
	}
	op := b.op(ctx, t, id)
	if op.Status != internalapi.OperationCompleted || op.Total != open || op.Done != open || op.Failed != 0 || op.FinishedAt == nil {
		t.Fatalf("finished operation = %+v; want COMPLETED, %d done", op, open)
	}
	after := statusCounts(ctx, t, b)
	if after[dlq.StatusNew] != 1 || after[dlq.StatusDismissed] != before[dlq.StatusDismissed]+open || after[dlq.StatusRetried] != before[dlq.StatusRetried] {
		t.Fatalf("statuses before %v, after %v", before, after)
	}
	if e, _ := b.svc.Get(ctx, late.EventID); e.Status != dlq.StatusNew {
		t.Fatalf("an entry received after the operation started is %s", e.Status)
	}
	var by string
	var resolved int
	if err := b.pool.QueryRow(ctx, `SELECT min(resolved_by), count(resolved_at) FROM dead_letters WHERE status = 'DISMISSED' AND resolved_by IS NOT NULL`).Scan(&by, &resolved); err != nil || by != "anonymous" || resolved != open {
		t.Fatalf("resolved by %q, %d with a time (%v)", by, resolved, err)
	}
	if ran, _, err := b.svc.RunChunk(ctx, far); ran || err != nil {
		t.Fatalf("a finished operation ran again: %v %v", ran, err)
	}
}

// setupOn is a second dlq instance on b's database and scheduler.
func setupOn(tb testing.TB, b opsBundle) opsBundle {
	tb.Helper()
	c := b
	svc, err := dlq.New(dlq.Config{Scheduler: reachable{b.sched, invokeOf(b.sched)}}, deps(b.pool))
	if err != nil {
		tb.Fatal(err)
	}
	c.svc = svc
	return c
}

// TestBulkRetry: by IDs (duplicates once; unknown, dismissed and poison
// entries fail) and by filter; a scheduler outage mid-operation stops it
// after the committed chunk, and it resumes; every job is retried once.
func TestBulkRetry(t *testing.T) {
	b := setupOps(t, dlq.Config{RetryChunkSize: 4})
	ctx := context.Background()
	var ids []string
	for range 10 {
		ids = append(ids, b.store(ctx, t, "RETRIES_EXHAUSTED").EventID)
	}
	dismissed := b.store(ctx, t, "RETRIES_EXHAUSTED").EventID
	if _, err := b.svc.Dismiss(ctx, dismissed, "x"); err != nil {
		t.Fatal(err)
	}
	req := append(append([]string{}, ids...), ids[0], uuid.NewString(), dismissed)
	id := b.create(ctx, t, internalapi.OperationRequest{Kind: internalapi.OperationRetry, IDs: req, By: "ops"})
	if op := b.op(ctx, t, id); op.Total != 12 || op.Kind != internalapi.OperationRetry {
		t.Fatalf("operation = %+v; want 12 entries (one duplicate dropped)", op)
	}
	far := time.Now().Add(time.Hour)
	if _, _, err := b.svc.RunChunk(ctx, far); err != nil {
		t.Fatal(err)
	}
	b.sched.set(func(c *contractScheduler) { c.down = true })
	if _, _, err := b.svc.RunChunk(ctx, far); err == nil {
		t.Fatal("a chunk succeeded with the scheduler down")
	}
	if op := b.op(ctx, t, id); op.Done != 4 || op.Status != internalapi.OperationRunning {
		t.Fatalf("after the outage: %+v", op)
	}
	b.sched.set(func(c *contractScheduler) { c.down = false })
	if _, err := b.svc.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	op := b.op(ctx, t, id)
	if op.Status != internalapi.OperationCompleted || op.Done != 10 || op.Failed != 2 || op.Total != 12 {
		t.Fatalf("finished = %+v", op)
	}
	for _, e := range ids {
		got, _ := b.svc.Get(ctx, e)
		if got.Status != dlq.StatusRetried || got.ResolvedBy != "ops" || b.sched.retried[got.JobID] != 1 {
			t.Fatalf("entry %s: %s by %q, job retried %d times", e, got.Status, got.ResolvedBy, b.sched.retried[got.JobID])
		}
	}

	// By filter: the NEW entries of one job type; a job the scheduler
	// refuses fails.
	var typed []string
	for i := range 6 {
		e := deadLetter(t, "RETRIES_EXHAUSTED", func(d *envelopeDL) { d.JobType = "BULK" })
		if err := b.svc.HandleKafka(ctx, batch(100, e)); err != nil {
			t.Fatal(err)
		}
		typed = append(typed, e.EventID)
		if i == 0 {
			b.sched.set(func(c *contractScheduler) { c.status[e.JobID] = internalapi.StatusRunning })
		}
	}
	id = b.create(ctx, t, internalapi.OperationRequest{Kind: internalapi.OperationRetry, Filter: &dlq.Filter{JobType: "BULK"}})
	if _, err := b.svc.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if op := b.op(ctx, t, id); op.Status != internalapi.OperationCompleted || op.Total != 6 || op.Done != 5 || op.Failed != 1 {
		t.Fatalf("by filter = %+v", op)
	}
	if got, _ := b.svc.Get(ctx, typed[0]); got.Status != dlq.StatusNew {
		t.Fatalf("the refused entry is %s", got.Status)
	}
	// Only failures: FAILED.
	id = b.create(ctx, t, internalapi.OperationRequest{Kind: internalapi.OperationRetry, IDs: []string{typed[0]}})
	if _, err := b.svc.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if op := b.op(ctx, t, id); op.Status != internalapi.OperationFailed || op.Failed != 1 {
		t.Fatalf("all failed = %+v", op)
	}
	// Nothing matches: COMPLETED at once.
	id = b.create(ctx, t, internalapi.OperationRequest{Kind: internalapi.OperationDismiss, Filter: &dlq.Filter{JobType: "NONE"}})
	if op := b.op(ctx, t, id); op.Status != internalapi.OperationCompleted || op.Total != 0 || op.FinishedAt == nil {
		t.Fatalf("empty = %+v", op)
	}
}

// TestOperationRequests: the route's refusals, each a 400 naming the
// field, and 404 for an unknown operation.
func TestOperationRequests(t *testing.T) {
	b := setupOps(t, dlq.Config{})
	ctx := context.Background()
	many := make([]string, internalapi.MaxOperationIDs+1)
	for i := range many {
		many[i] = uuid.NewString()
	}
	manyJSON, _ := json.Marshal(many)
	for _, c := range []struct{ body, field string }{
		{`{"kind":"DLQ_RETRY"}`, "ids: give ids"},
		{`{"kind":"DLQ_RETRY","ids":[],"filter":{}}`, "ids: give ids or filter, not both"},
		{`{"kind":"DLQ_RETRY","ids":[]}`, "ids: must list 1 to 1000"},
		{`{"kind":"DLQ_RETRY","ids":` + string(manyJSON) + `}`, "ids: must list 1 to 1000"},
		{`{"kind":"DLQ_RETRY","ids":["nope"]}`, "ids[0]: must be a UUID"},
		{`{"kind":"DLQ_DELETE","ids":["` + many[0] + `"]}`, "kind: must be"},
		{`{"kind":"DLQ_RETRY","filter":{"status":"DISMISSED"}}`, "filter.status: a DLQ_RETRY acts only on"},
		{`{"kind":"DLQ_DISMISS","filter":{"status":"OPEN"}}`, "filter.status: must be one of"},
		{`{"kind":"DLQ_DISMISS","filter":{"from":"2026-12-02T00:00:00Z","to":"2026-12-01T00:00:00Z"}}`, "filter.from: must not be after to"},
		{`{"kind":"DLQ_DISMISS","filter":{"colour":"red"}}`, "colour"},
		{`{"kind":"DLQ_DISMISS","filter":{"from":"yesterday"}}`, "the body is not a valid request"},
		{`[1,2]`, "the body is not a valid request"},
	} {
		status, out := b.call(ctx, t, http.MethodPost, internalapi.PathOperations, c.body)
		if status != http.StatusBadRequest || out["errorCode"] != "DLQ.INVALID_REQUEST" || !strings.Contains(fmt.Sprint(out["message"]), c.field) {
			t.Errorf("%.80s: %d %v; want a 400 with %q", c.body, status, out, c.field)
		}
	}
	status, out := b.call(ctx, t, http.MethodGet, internalapi.OperationPath(uuid.NewString()), "")
	if status != http.StatusNotFound || out["errorCode"] != "DLQ.OPERATION_NOT_FOUND" {
		t.Fatalf("unknown operation: %d %v", status, out)
	}
	status, out = b.call(ctx, t, http.MethodGet, internalapi.OperationPath("nope"), "")
	if status != http.StatusBadRequest {
		t.Fatalf("bad operation id: %d %v", status, out)
	}
	id := b.create(ctx, t, internalapi.OperationRequest{Kind: internalapi.OperationDismiss, IDs: many[:3]})
	status, out = b.call(ctx, t, http.MethodGet, internalapi.OperationPath(id), "")
	if status != http.StatusOK || out["operationId"] != id || out["kind"] != "DLQ_DISMISS" || out["status"] != "RUNNING" ||
		out["total"] != 3.0 || out["startedAt"] == nil || out["finishedAt"] != nil {
		t.Fatalf("operation: %d %v", status, out)
	}
	if _, ok := out["finishedAt"]; !ok {
		t.Fatalf("finishedAt is absent, want null: %v", out)
	}
}
