package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/stacktest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// TestDLQRetryRunsTheJobAgain: a job that fails its two attempts is
// dead-lettered; POST /api/dlq/{id}/retry runs it again under its jobId,
// attempt numbers carrying on (its FAIL step fails attempts 1 and 2 only,
// so attempt 3 succeeds): the job is COMPLETED, the entry RETRIED (when,
// by whom, which attempt), and a second retry is a 409.
func TestDLQRetryRunsTheJobAgain(t *testing.T) {
	s := startStack(t, nil)
	id := s.Submit(t, stacktest.JobJSON(`{"action":"FAIL","message":"flaky","failTimes":2}`, 1))
	s.WaitStatus(t, id, "FAILED")
	entry := s.WaitDeadLetter(t, "the failed job", func(e map[string]any) bool { return e["jobId"] == id })
	dlqID, _ := entry["id"].(string)
	if entry["status"] != "NEW" {
		t.Fatalf("new entry = %v", entry)
	}

	r := s.Do(t, http.MethodPost, "/api/dlq/"+dlqID+"/retry", "")
	if got := r.JSON(t); r.Status != http.StatusAccepted || got["dlqId"] != dlqID || got["jobId"] != id || got["status"] != "RETRIED" {
		t.Fatalf("retry = %d %s", r.Status, r.Body)
	}
	job := s.WaitStatus(t, id, "COMPLETED", "FAILED")
	if job["status"] != "COMPLETED" || job["attempts"] != 3.0 {
		t.Fatalf("after the retry the job is %v after %v attempts", job["status"], job["attempts"])
	}
	r = s.Do(t, http.MethodGet, "/api/dlq/"+dlqID, "")
	e := r.JSON(t)
	if e["status"] != "RETRIED" || e["resolvedBy"] != "anonymous" || e["resolvedAt"] == nil || e["retriedJobAttempt"] != 3.0 {
		t.Fatalf("entry after the retry = %v", e)
	}
	r = s.Do(t, http.MethodPost, "/api/dlq/"+dlqID+"/retry", "")
	if got := r.JSON(t); r.Status != http.StatusConflict || got["errorCode"] != "API.DLQ_ENTRY_NOT_NEW" || !strings.Contains(got["message"].(string), "RETRIED") {
		t.Fatalf("second retry = %d %s", r.Status, r.Body)
	}
	if n := len(s.DeadLetters(t)); n != 1 {
		t.Fatalf("%d dead letters; the job completed, so only the first", n)
	}
}

// TestDLQBulkDismissFinishesOnItsOwn: a bulk dismiss by filter answers
// 202 with an operation that the stack works to the end (the api starts
// the dlq's maintenance, and the tick calls it too); the list shows the
// entries DISMISSED.
func TestDLQBulkDismissFinishesOnItsOwn(t *testing.T) {
	s := startStack(t, nil)
	var ids []string
	for range 3 {
		ids = append(ids, s.Submit(t, stacktest.JobJSON(`{"action":"FAIL","message":"bulk"}`, 0)))
	}
	for _, id := range ids {
		s.WaitStatus(t, id, "FAILED")
	}
	testwait.Eventually(t, stacktest.Bound, "three dead letters", func() bool { return len(s.DeadLetters(t)) == 3 })

	r := s.Do(t, http.MethodPost, "/api/dlq/dismiss", `{"filter":{"status":"NEW","errorCode":"WORKER.STEP_FAILED"}}`)
	op, _ := r.JSON(t)["operationId"].(string)
	if r.Status != http.StatusAccepted || op == "" {
		t.Fatalf("bulk dismiss = %d %s", r.Status, r.Body)
	}
	var last map[string]any
	testwait.EventuallyState(t, 30*time.Second, "the operation completes", func() bool {
		last = s.Do(t, http.MethodGet, "/api/operations/"+op, "").JSON(t)
		return last["status"] == "COMPLETED"
	}, func() string { return stateOf(last) })
	if last["total"] != 3.0 || last["done"] != 3.0 || last["failed"] != 0.0 || last["kind"] != "DLQ_DISMISS" || last["finishedAt"] == nil {
		t.Fatalf("operation = %v", last)
	}
	r = s.Do(t, http.MethodGet, "/api/dlq?status=DISMISSED", "")
	if n := len(r.JSON(t)["content"].([]any)); n != 3 {
		t.Fatalf("%d DISMISSED entries listed: %s", n, r.Body)
	}
	if r := s.Do(t, http.MethodGet, "/api/dlq?status=NEW", ""); len(r.JSON(t)["content"].([]any)) != 0 {
		t.Fatalf("NEW entries remain: %s", r.Body)
	}
}

func stateOf(m map[string]any) string {
	if m == nil {
		return "nothing yet"
	}
	return fmt.Sprint(m)
}
