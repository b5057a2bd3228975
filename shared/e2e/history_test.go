package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/stacktest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// history reads GET /api/jobs/{id}/history.
func (s *stack) history(t *testing.T, id string) internalapi.JobHistory {
	t.Helper()
	r := s.Do(t, http.MethodGet, "/api/jobs/"+id+"/history", "")
	if r.Status != http.StatusOK {
		t.Fatalf("history = %d %s", r.Status, r.Body)
	}
	var h internalapi.JobHistory
	if err := json.Unmarshal(r.Body, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// checkOrder fails unless the events have exactly the types want, in
// order, and never go back in time.
func checkOrder(t *testing.T, h internalapi.JobHistory, want []string) {
	t.Helper()
	types := make([]string, len(h.Events))
	for i, e := range h.Events {
		types[i] = e.Type
		if i > 0 && e.At.Before(h.Events[i-1].At) {
			t.Errorf("event %d %s at %v is before the one before it at %v", i, e.Type, e.At, h.Events[i-1].At)
		}
	}
	ok := len(types) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = types[i] == want[i]
	}
	if !ok {
		t.Fatalf("history types\n %v\nwant\n %v", types, want)
	}
}

// A failTimes job's history, through the whole stack: each attempt
// dispatched, started and failed, retries scheduled with growing gaps,
// then completion.
func TestHistoryOfRetries(t *testing.T) {
	s := startStack(t, nil)
	id := s.Submit(t, stacktest.JobJSON(`{"action":"FAIL","message":"flaky","failTimes":3},{"action":"LOG","message":"ok"}`, 3))
	job := s.WaitStatus(t, id, "COMPLETED")
	h := s.history(t, id)
	var want []string
	want = append(want, "SUBMITTED")
	for range 3 {
		want = append(want, "DISPATCHED", "STARTED", "ATTEMPT_FAILED", "RETRY_SCHEDULED")
	}
	want = append(want, "DISPATCHED", "STARTED", "ATTEMPT_COMPLETED", "COMPLETED")
	checkOrder(t, h, want)
	var gaps []time.Duration
	for i, e := range h.Events {
		switch e.Type {
		case internalapi.EventRetryScheduled:
			if e.NextRunAt == nil {
				t.Fatalf("retry event without nextRunAt: %+v", e)
			}
			gaps = append(gaps, e.NextRunAt.Sub(e.At))
			if next := h.Events[i+1]; next.Type != internalapi.EventDispatched || next.At.Before(*e.NextRunAt) || next.Attempt != e.Attempt {
				t.Errorf("retry %+v, then %+v: the retry ran before it was due", e, next)
			}
		case internalapi.EventAttemptFailed:
			if e.Message == "" || e.ErrorCode == "" {
				t.Errorf("failure without its error: %+v", e)
			}
		}
	}
	// 300 ms base, doubling, ±20 % jitter: each gap is longer.
	for i := 1; i < len(gaps); i++ {
		if gaps[i] <= gaps[i-1] {
			t.Fatalf("retry gaps %v do not grow", gaps)
		}
	}
	if last := h.Events[len(h.Events)-1]; last.Attempt != 4 || last.At.Format(time.RFC3339Nano) != job["finishedAt"] {
		t.Errorf("COMPLETED event %+v; job finished at %v", last, job["finishedAt"])
	}

	// An unchanged answer is a 304.
	r := s.Do(t, http.MethodGet, "/api/jobs/"+id+"/history", "")
	tag := r.Header.Get("ETag")
	if again := s.Do(t, http.MethodGet, "/api/jobs/"+id+"/history", "", "If-None-Match", tag); tag == "" || again.Status != http.StatusNotModified || len(again.Body) != 0 {
		t.Fatalf("history with If-None-Match %q = %d %q", tag, again.Status, again.Body)
	}
}

// A dead-lettered job retried by hand (the dlq's call to the scheduler)
// runs on under its ID, with attempt numbers that carry on and a fresh
// budget, and its history shows the manual retry; updatedSince lists it.
func TestManualRetryThroughTheStack(t *testing.T) {
	s := startStack(t, nil)
	before := time.Now().Add(-time.Second).UTC()
	id := s.Submit(t, stacktest.JobJSON(`{"action":"FAIL","message":"flaky","failTimes":3},{"action":"LOG","message":"ok"}`, 1))
	s.WaitStatus(t, id, "FAILED")
	var dlqID string
	testwait.Eventually(t, stacktest.Bound, "the dead letter is stored", func() bool {
		return s.DBs["dlq"].QueryRow(context.Background(), `SELECT event_id::text FROM dead_letters WHERE job_id = $1`, id).Scan(&dlqID) == nil
	})

	retry := func() stacktest.Response {
		return stacktest.Do(t, s.SchedulerURL, http.MethodPost, internalapi.JobRetryPath(id),
			`{"dlqId":"`+dlqID+`","by":"anonymous"}`, devstack.InternalSecretHeader, s.InternalSecret)
	}
	r := retry()
	if r.Status != http.StatusAccepted {
		t.Fatalf("retry = %d %s", r.Status, r.Body)
	}
	if res := r.JSON(t); res["status"] != "PENDING" || res["nextAttempt"] != float64(3) || res["jobId"] != id {
		t.Fatalf("retry = %v", res)
	}
	// Attempt 3 fails (failTimes 3), attempt 4, the fresh budget's retry, completes.
	job := s.WaitStatus(t, id, "COMPLETED")
	if job["attempts"] != float64(4) {
		t.Fatalf("job = %v", job)
	}
	if again := retry(); again.Status != http.StatusAccepted || again.JSON(t)["nextAttempt"] != float64(3) {
		t.Fatalf("the same retry again = %d %s", again.Status, again.Body)
	}

	h := s.history(t, id)
	checkOrder(t, h, []string{"SUBMITTED",
		"DISPATCHED", "STARTED", "ATTEMPT_FAILED", "RETRY_SCHEDULED",
		"DISPATCHED", "STARTED", "ATTEMPT_FAILED", "FAILED", "DEAD_LETTERED",
		"MANUAL_RETRY",
		"DISPATCHED", "STARTED", "ATTEMPT_FAILED", "RETRY_SCHEDULED",
		"DISPATCHED", "STARTED", "ATTEMPT_COMPLETED", "COMPLETED"})
	for _, e := range h.Events {
		switch e.Type {
		case internalapi.EventDeadLettered:
			if e.DLQID != dlqID || e.Attempt != 2 {
				t.Errorf("dead-lettered %+v; want dlqId %s", e, dlqID)
			}
		case internalapi.EventManualRetry:
			if e.DLQID != dlqID || e.By != "anonymous" || e.Attempt != 3 {
				t.Errorf("manual retry %+v", e)
			}
		}
	}

	// The changes since before the submission list the job, with asOf.
	r = s.Do(t, http.MethodGet, "/api/jobs?updatedSince="+url.QueryEscape(before.Format(time.RFC3339Nano)), "")
	page := r.JSON(t)
	content, _ := page["content"].([]any)
	if r.Status != http.StatusOK || len(content) != 1 || content[0].(map[string]any)["jobId"] != id || page["asOf"] == nil {
		t.Fatalf("updatedSince = %d %s", r.Status, r.Body)
	}
	// Nothing changes after asOf... but it is within the overlap, so the
	// job may come again; a time after its last update lists nothing.
	after := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	if r := s.Do(t, http.MethodGet, "/api/jobs?updatedSince="+after, ""); r.Status != http.StatusOK || len(r.JSON(t)["content"].([]any)) != 0 {
		t.Fatalf("updatedSince in the future = %d %s", r.Status, r.Body)
	}
}
