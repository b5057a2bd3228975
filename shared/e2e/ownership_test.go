package e2e

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/jobweaver/jobweaver/shared/stacktest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// TestOwnershipThroughTheStack (issue #12, ownership and audit), against
// a stack with API_AUTH=keys: two operator keys submit with the same
// Idempotency-Key and get a job each (a repeat is the replay); the jobs
// show their creator, the list filters by it; a cancel's caller is in
// the history; and the audit lists the submissions, the cancel and the
// dead-letter actions with the right caller.
func TestOwnershipThroughTheStack(t *testing.T) {
	s, admin := authStack(t)
	keyA, idA := s.newKey(t, admin, "operator", "")
	keyB, idB := s.newKey(t, admin, "operator", "")
	as := func(key string) []string { return []string{"Authorization", "Bearer " + key} }
	do := func(key, method, path, body string, hdr ...string) stacktest.Response {
		t.Helper()
		return s.Do(t, method, path, body, append(as(key), hdr...)...)
	}
	submit := func(key, idem string) (string, bool) {
		t.Helper()
		r := do(key, http.MethodPost, "/api/jobs", stacktest.JobJSON(`{"action":"SLEEP","durationMs":20000}`, 0), "Idempotency-Key", idem)
		id, _ := r.JSON(t)["jobId"].(string)
		if r.Status != http.StatusAccepted || id == "" {
			t.Fatalf("POST /api/jobs = %d %s", r.Status, r.Body)
		}
		return id, r.Header.Get("Idempotent-Replayed") == "true"
	}

	jobA, replayed := submit(keyA, "nightly-report")
	jobB, replayedB := submit(keyB, "nightly-report")
	again, replayedAgain := submit(keyA, "nightly-report")
	if replayed || replayedB || jobA == jobB || again != jobA || !replayedAgain {
		t.Fatalf("same key: A %s (%v), B %s (%v), A again %s (%v)", jobA, replayed, jobB, replayedB, again, replayedAgain)
	}
	r := do(keyA, http.MethodPost, "/api/jobs", stacktest.JobJSON(`{"action":"FAIL","message":"owned"}`, 0))
	failing, _ := r.JSON(t)["jobId"].(string)
	if r.Status != http.StatusAccepted {
		t.Fatalf("failing job = %d %s", r.Status, r.Body)
	}

	// The jobs show their creator, and the list (the scheduler's, once it
	// ingested them) filters by it.
	for _, j := range []struct{ id, by string }{{jobA, idA}, {jobB, idB}} {
		if got := do(keyB, http.MethodGet, "/api/jobs/"+j.id, "").JSON(t); got["createdBy"] != j.by {
			t.Errorf("job %s: createdBy %v, want %s", j.id, got["createdBy"], j.by)
		}
	}
	var list map[string]any
	testwait.EventuallyState(t, stacktest.Bound, "the list filters by createdBy", func() bool {
		list = do(keyA, http.MethodGet, "/api/jobs?createdBy="+url.QueryEscape(idB), "").JSON(t)
		content, _ := list["content"].([]any)
		if len(content) != 1 {
			return false
		}
		item, _ := content[0].(map[string]any)
		return item["jobId"] == jobB && item["createdBy"] == idB
	}, func() string { return stateOf(list) })

	// B cancels A's job: the history says who.
	if r := do(keyB, http.MethodDelete, "/api/jobs/"+jobA, ""); r.Status != http.StatusOK || r.JSON(t)["status"] != "CANCELLED" {
		t.Fatalf("cancel = %d %s", r.Status, r.Body)
	}
	h := do(keyA, http.MethodGet, "/api/jobs/"+jobA+"/history", "").JSON(t)
	events, _ := h["events"].([]any)
	last, _ := events[len(events)-1].(map[string]any)
	if last["type"] != "CANCELLED" || last["by"] != idB {
		t.Fatalf("history %v: the last event is not CANCELLED by %s", h, idB)
	}
	if r := do(keyA, http.MethodDelete, "/api/jobs/"+jobB, ""); r.Status != http.StatusOK {
		t.Fatalf("cancel B's job = %d %s", r.Status, r.Body)
	}

	// The failed job's dead letter: A dismisses it, B starts a bulk retry.
	var entry string
	testwait.Eventually(t, stacktest.Bound, "the failed job's dead letter", func() bool {
		content, _ := do(keyA, http.MethodGet, "/api/dlq?size=100", "").JSON(t)["content"].([]any)
		for _, e := range content {
			if m, _ := e.(map[string]any); m["jobId"] == failing {
				entry, _ = m["id"].(string)
			}
		}
		return entry != ""
	})
	if r := do(keyA, http.MethodPost, "/api/dlq/"+entry+"/dismiss", ""); r.Status != http.StatusOK {
		t.Fatalf("dismiss = %d %s", r.Status, r.Body)
	}
	r = do(keyB, http.MethodPost, "/api/dlq/retry", `{"ids":["`+entry+`"]}`)
	op, _ := r.JSON(t)["operationId"].(string)
	if r.Status != http.StatusAccepted || op == "" {
		t.Fatalf("bulk retry = %d %s", r.Status, r.Body)
	}

	// The audit, as the admin sees it.
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"action=job.submit&caller=" + idA, 2}, // the repeat added none
		{"action=job.submit&caller=" + idB, 1},
		{"action=job.submit&target=" + jobB, 1},
		{"action=job.cancel&caller=" + idB + "&target=" + jobA, 1},
		{"action=job.cancel&caller=" + idA + "&target=" + jobB, 1},
		{"action=dlq.dismiss&caller=" + idA + "&target=" + entry, 1},
		{"action=dlq.bulk-retry&caller=" + idB + "&target=" + op, 1},
		{"action=job.cancel&caller=anonymous", 0},
	} {
		r := do(admin, http.MethodGet, "/api/audit?"+tc.query, "")
		content, _ := r.JSON(t)["content"].([]any)
		if r.Status != http.StatusOK || len(content) != tc.want {
			t.Errorf("audit %s: %d, %d entries, want %d: %s", tc.query, r.Status, len(content), tc.want, r.Body)
		}
	}
	if r := do(keyA, http.MethodGet, "/api/audit", ""); r.Status != http.StatusForbidden {
		t.Errorf("an operator reads the audit: %d", r.Status)
	}
}
