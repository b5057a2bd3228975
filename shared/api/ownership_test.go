package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/paging"
)

// ownershipBundle is a keys bundle with two operator keys.
func ownershipBundle(t *testing.T) (b *bundle, admin string, a, c CreatedKey) {
	t.Helper()
	b, admin = keysBundle(t)
	a = b.createKey(t, admin, `{"name":"team a","role":"operator"}`)
	c = b.createKey(t, admin, `{"name":"team c","role":"operator"}`)
	return b, admin, a, c
}

// auditOf lists the audit entries of action (all pages' worth: size 100).
func (b *bundle) auditOf(t *testing.T, admin, query string) []AuditEntry {
	t.Helper()
	w := b.do(http.MethodGet, "/api/audit?size=100&"+query, "", bearer(admin)...)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /api/audit?%s = %d %s", query, w.Code, w.Body)
	}
	var p paging.Page[AuditEntry]
	decodeStrict(t, w, &p)
	return p.Content
}

// TestIdempotencyKeysArePerCaller: two callers using the same
// Idempotency-Key get a job (or batch) each; the same caller repeating
// gets the replay, and only the first of each adds an audit row, in the
// statement that stored the jobs. Single and batch submissions alike.
func TestIdempotencyKeysArePerCaller(t *testing.T) {
	for _, tc := range []struct {
		name, action string
		submit       func(b *bundle, key, idem string) *httptest.ResponseRecorder
		ids          func(t *testing.T, w *httptest.ResponseRecorder) []string
	}{
		{"single", ActionJobSubmit,
			func(b *bundle, key, idem string) *httptest.ResponseRecorder {
				return b.post(sampleJob, append(bearer(key), "Idempotency-Key", idem)...)
			},
			func(t *testing.T, w *httptest.ResponseRecorder) []string { return []string{accepted(t, w).JobID} }},
		{"batch", ActionJobBatch,
			func(b *bundle, key, idem string) *httptest.ResponseRecorder {
				return b.do(http.MethodPost, "/api/jobs/batch", batchBody(3, -1),
					append(bearer(key), "Content-Type", "application/json", "Idempotency-Key", idem)...)
			},
			func(t *testing.T, w *httptest.ResponseRecorder) []string {
				if w.Code != http.StatusAccepted {
					t.Fatalf("batch = %d %s", w.Code, w.Body)
				}
				var out BatchAccepted
				decodeStrict(t, w, &out)
				ids := make([]string, len(out.Jobs))
				for i, j := range out.Jobs {
					ids[i] = j.JobID
				}
				return ids
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, admin, a, c := ownershipBundle(t)
			wa := tc.submit(b, a.Key, "same-key")
			first := tc.ids(t, wa)
			wc := tc.submit(b, c.Key, "same-key")
			other := tc.ids(t, wc)
			if wc.Header().Get("Idempotent-Replayed") != "" || other[0] == first[0] {
				t.Fatalf("another caller's same key: replayed %q, jobs %v and %v", wc.Header().Get("Idempotent-Replayed"), first, other)
			}
			again := tc.submit(b, a.Key, "same-key")
			if ids := tc.ids(t, again); again.Header().Get("Idempotent-Replayed") != "true" || strings.Join(ids, ",") != strings.Join(first, ",") {
				t.Fatalf("the same caller's repeat: replayed %q, jobs %v, want %v", again.Header().Get("Idempotent-Replayed"), ids, first)
			}
			jobs := len(first)
			for _, k := range []CreatedKey{a, c} {
				if n := b.count(t, `SELECT count(*) FROM jobs WHERE created_by = $1 AND job_type = 'SIMULATION'`, k.ID); n != jobs {
					t.Errorf("%s has %d jobs, want %d", k.Name, n, jobs)
				}
			}
			// One audit row per caller: the replay added none.
			for _, tt := range []struct {
				key    CreatedKey
				target string
			}{{a, first[0]}, {c, other[0]}} {
				got := b.auditOf(t, admin, "action="+tc.action+"&caller="+tt.key.ID)
				if len(got) != 1 || got[0].Target != tt.target {
					t.Fatalf("%s audit of %s: %+v, want one with target %s", tc.action, tt.key.Name, got, tt.target)
				}
				var detail map[string]any
				if err := json.Unmarshal(got[0].Detail, &detail); err != nil || detail["idempotencyKey"] != "same-key" ||
					(tc.action == ActionJobBatch && detail["count"] != float64(3)) {
					t.Errorf("detail %s", got[0].Detail)
				}
			}
			// The job shows its caller.
			w := b.do(http.MethodGet, "/api/jobs/"+other[0], "", bearer(a.Key)...)
			var v JobView
			decodeStrict(t, w, &v)
			if v.CreatedBy != c.ID {
				t.Fatalf("createdBy = %q, want %q", v.CreatedBy, c.ID)
			}
			// Its job-created event (and a cancel's copy of it) carries the
			// caller to the scheduler.
			sub, err := jobByID(context.Background(), b.pool, other[0])
			if err != nil {
				t.Fatal(err)
			}
			if ev, _ := json.Marshal(sub.jobCreated()); !strings.Contains(string(ev), `"createdBy":"`+c.ID+`"`) {
				t.Errorf("job-created payload %s does not name its caller", ev)
			}
		})
	}
}

// TestSubmissionAuditWithoutKey: a submission with no Idempotency-Key is
// audited once per request (a batch once, not per job), and a rejected
// one not at all.
func TestSubmissionAuditWithoutKey(t *testing.T) {
	b, admin, a, _ := ownershipBundle(t)
	accepted(t, b.post(sampleJob, bearer(a.Key)...))
	accepted(t, b.post(sampleJob, bearer(a.Key)...))
	if w := b.do(http.MethodPost, "/api/jobs/batch", batchBody(5, -1), append(bearer(a.Key), "Content-Type", "application/json")...); w.Code != http.StatusAccepted {
		t.Fatalf("batch = %d %s", w.Code, w.Body)
	}
	if w := b.do(http.MethodPost, "/api/jobs/batch", batchBody(2, 1), append(bearer(a.Key), "Content-Type", "application/json")...); w.Code != http.StatusBadRequest {
		t.Fatalf("bad batch = %d %s", w.Code, w.Body)
	}
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"action=job.submit", 2},
		{"action=job.batch", 1},
		{"caller=" + a.ID, 3},
	} {
		if got := b.auditOf(t, admin, tc.query); len(got) != tc.want {
			t.Errorf("%s: %d entries, want %d: %+v", tc.query, len(got), tc.want, got)
		}
	}
	batch := b.auditOf(t, admin, "action=job.batch")[0]
	if !strings.Contains(string(batch.Detail), `"count":5`) {
		t.Errorf("batch detail %s", batch.Detail)
	}
	if n := b.count(t, `SELECT count(*) FROM jobs WHERE id::text = $1`, batch.Target); n != 1 {
		t.Errorf("the batch's audit target %s is not one of its jobs", batch.Target)
	}
}

// TestCancelAndDLQActionsAreAudited: a cancel sends its caller to the
// scheduler and is audited once done; a refused cancel is not. Retries,
// dismissals and bulk operations (through the real dlq function) are
// audited with their caller and target.
func TestCancelAndDLQActionsAreAudited(t *testing.T) {
	b, admin, a, c := ownershipBundle(t)
	pool := withDLQ(t, b)
	job := accepted(t, b.post(sampleJob, bearer(a.Key)...)).JobID
	cancelled := schedulerStatus(job, internalapi.StatusCancelled, 0)
	cancelled["createdBy"] = a.ID
	b.sched.on("POST /internal/jobs/{id}/cancel", http.StatusOK, cancelled)
	if w := b.do(http.MethodDelete, "/api/jobs/"+job, "", bearer(c.Key)...); w.Code != http.StatusOK {
		t.Fatalf("cancel = %d %s", w.Code, w.Body)
	}
	calls := b.sched.received()
	if last := calls[len(calls)-1]; !strings.Contains(last.Body, `"by":"`+c.ID+`"`) || !strings.Contains(last.Body, `"createdBy":"`+a.ID+`"`) {
		t.Fatalf("cancel request %s does not name both callers", last.Body)
	}
	b.sched.on("POST /internal/jobs/{id}/cancel", http.StatusConflict, map[string]any{"currentStatus": "CANCELLED"})
	wantError(t, b.do(http.MethodDelete, "/api/jobs/"+job, "", bearer(c.Key)...), http.StatusConflict, "API.JOB_NOT_CANCELLABLE")

	b.sched.on("POST "+internalapi.PathJobRetry, http.StatusAccepted, internalapi.JobRetryResponse{Status: "PENDING", NextAttempt: 2})
	retried, _ := addEntry(t, pool, "RETRIES_EXHAUSTED", "A")
	dismissed, _ := addEntry(t, pool, "RETRIES_EXHAUSTED", "A")
	addEntry(t, pool, "RETRIES_EXHAUSTED", "B")
	if w := b.do(http.MethodPost, "/api/dlq/"+retried+"/retry", "", bearer(a.Key)...); w.Code != http.StatusAccepted {
		t.Fatalf("retry = %d %s", w.Code, w.Body)
	}
	if w := b.do(http.MethodPost, "/api/dlq/"+dismissed+"/dismiss", "", bearer(c.Key)...); w.Code != http.StatusOK {
		t.Fatalf("dismiss = %d %s", w.Code, w.Body)
	}
	// A refused action is not audited.
	wantError(t, b.do(http.MethodPost, "/api/dlq/"+dismissed+"/dismiss", "", bearer(c.Key)...), http.StatusConflict, "API.DLQ_ENTRY_NOT_NEW")
	ops := map[string]string{}
	for _, op := range []struct{ path, body, key string }{
		{"/api/dlq/retry", `{"ids":["` + retried + `","` + dismissed + `"]}`, a.Key},
		{"/api/dlq/dismiss", `{"filter":{"jobType":"B"}}`, c.Key},
	} {
		w := b.do(http.MethodPost, op.path, op.body, append(bearer(op.key), "Content-Type", "application/json")...)
		if w.Code != http.StatusAccepted {
			t.Fatalf("%s = %d %s", op.path, w.Code, w.Body)
		}
		ops[op.path] = decodeAs[internalapi.OperationCreated](t, w.Body.Bytes()).OperationID
	}

	for _, tc := range []struct {
		action, caller, target, detail string
	}{
		{ActionJobCancel, c.ID, job, `"jobType"`},
		{ActionDLQRetry, a.ID, retried, `"status":"RETRIED"`},
		{ActionDLQDismiss, c.ID, dismissed, `"status":"DISMISSED"`},
		{ActionDLQBulkRetry, a.ID, ops["/api/dlq/retry"], `"ids":2`},
		{ActionDLQBulkDismiss, c.ID, ops["/api/dlq/dismiss"], `"jobType":"B"`},
	} {
		got := b.auditOf(t, admin, "action="+tc.action)
		if len(got) != 1 || got[0].Caller != tc.caller || got[0].Target != tc.target || !strings.Contains(string(got[0].Detail), tc.detail) {
			t.Errorf("%s: %+v, want one by %s on %s with %s", tc.action, got, tc.caller, tc.target, tc.detail)
		}
		// The filters narrow to it.
		if got := b.auditOf(t, admin, "action="+tc.action+"&caller="+tc.caller+"&target="+tc.target); len(got) != 1 {
			t.Errorf("%s by caller and target: %d entries", tc.action, len(got))
		}
	}
}

// TestListForwardsCreatedBy: GET /api/jobs?createdBy= reaches the
// scheduler, and its items show their caller ("anonymous" when an older
// scheduler names none).
func TestListForwardsCreatedBy(t *testing.T) {
	b := setup(t, Config{})
	item := schedulerStatus("0190a000-0000-7000-8000-000000000001", internalapi.StatusPending, 0)
	delete(item, "payload")
	item["createdBy"] = "jwt:alice"
	old := schedulerStatus("0190a000-0000-7000-8000-000000000002", internalapi.StatusPending, 0)
	delete(old, "payload")
	b.sched.on("GET "+internalapi.PathJobs, http.StatusOK, map[string]any{
		"content": []any{item, old}, "page": 0, "size": 20, "totalElements": 2, "totalPages": 1})
	w := b.do(http.MethodGet, "/api/jobs?createdBy=jwt:alice", "")
	var page JobPage
	decodeStrict(t, w, &page)
	if w.Code != http.StatusOK || len(page.Content) != 2 || page.Content[0].CreatedBy != "jwt:alice" || page.Content[1].CreatedBy != "anonymous" {
		t.Fatalf("list = %d %s", w.Code, w.Body)
	}
	calls := b.sched.received()
	if q := calls[len(calls)-1].Query; q.Get("createdBy") != "jwt:alice" {
		t.Fatalf("forwarded query %v", q)
	}
	for _, bad := range []string{strings.Repeat("x", maxCallerFilterLen+1), "a%00b", "%ff"} {
		wantError(t, b.do(http.MethodGet, "/api/jobs?createdBy="+bad, ""), http.StatusBadRequest, "API.INVALID_REQUEST")
	}
}

// TestAuditFiltersUseIndexes: with a row per submission the audit is as
// large as the jobs; the caller and action filters of GET /api/audit (as
// listAudit builds them: a capped count, then a page newest first) read
// through their indexes (migration 00007) instead of the whole table.
func TestAuditFiltersUseIndexes(t *testing.T) {
	b := setup(t, Config{})
	ctx := context.Background()
	if _, err := b.pool.Exec(ctx, `
		INSERT INTO audit (id, at, caller, action, target, detail)
		SELECT gen_random_uuid(), now() - g * interval '1 second', 'key-' || (g % 100),
		       CASE WHEN g % 1000 = 0 THEN 'job.cancel' ELSE 'job.submit' END, gen_random_uuid()::text, '{}'
		  FROM generate_series(1, 30000) AS g`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(ctx, `ANALYZE audit`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ where, index string }{
		{"caller = 'key-7'", "audit_caller_at"},
		{"action = 'job.cancel'", "audit_action_at"},
	} {
		for _, query := range []string{
			`SELECT id, at, caller, action, target, detail FROM audit WHERE ` + tc.where + ` ORDER BY at DESC, id DESC LIMIT 21 OFFSET 0`,
			`SELECT count(*) FROM (SELECT 1 FROM audit WHERE ` + tc.where + ` LIMIT 10001) c`,
		} {
			var plan strings.Builder
			rows, err := b.pool.Query(ctx, `EXPLAIN `+query)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan.WriteString(line + "\n")
			}
			if !strings.Contains(plan.String(), tc.index) {
				t.Errorf("%s does not use %s:\n%s", query, tc.index, plan.String())
			}
		}
	}
}
