package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/stacktest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

func TestSubmitRunsToCompletion(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	s := startStack(t, nil)

	steps := `{"action":"LOG","message":"start"},{"action":"SLEEP","durationMs":20},` +
		`{"action":"COMPUTE","iterations":10000},{"action":"HTTP_CALL","url":"` + target.URL + `"},` +
		`{"action":"HTTP_CALL","latencyMs":5},{"action":"LOG","message":"done"}`
	r := s.Do(t, http.MethodPost, "/api/jobs", stacktest.JobJSON(steps, 2), "X-Trace-Id", "trace-e2e-1")
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST = %d %s", r.Status, r.Body)
	}
	if got := r.Header.Get("X-Trace-Id"); got != "trace-e2e-1" {
		t.Errorf("X-Trace-Id echoed = %q", got)
	}
	acc := r.JSON(t)
	id := acc["jobId"].(string)
	if acc["traceId"] != "trace-e2e-1" {
		t.Errorf("traceId = %v", acc["traceId"])
	}

	job := s.WaitStatus(t, id, "COMPLETED")
	if job["attempts"] != float64(1) || job["jobType"] != "SIMULATION" || job["traceId"] != "trace-e2e-1" {
		t.Errorf("job = %v", job)
	}
	for _, f := range []string{"createdAt", "startedAt", "finishedAt"} {
		if job[f] == nil {
			t.Errorf("job has no %s: %v", f, job)
		}
	}
	if hits.Load() != 1 {
		t.Errorf("HTTP_CALL target hit %d times, want 1", hits.Load())
	}

	ex := s.Do(t, http.MethodGet, "/api/jobs/"+id+"/executions", "").JSON(t)
	content := ex["content"].([]any)
	if len(content) != 1 {
		t.Fatalf("executions = %v", ex)
	}
	att := content[0].(map[string]any)
	if att["status"] != "COMPLETED" || len(att["steps"].([]any)) != 6 {
		t.Errorf("attempt = %v", att)
	}
	for _, st := range att["steps"].([]any) {
		if st.(map[string]any)["status"] != "SUCCEEDED" {
			t.Errorf("step = %v", st)
		}
	}

	// The trace ID rode every hop: the job-created and run-job records.
	for _, topic := range []string{envelope.TopicJobCreated, envelope.TopicRunJob, envelope.TopicJobCompleted} {
		recs := kafkatest.ReadAll(t, s.Brokers, topic, 1, 10*time.Second)
		if len(recs) != 1 {
			t.Fatalf("%s has %d records", topic, len(recs))
		}
		var trace string
		for _, h := range recs[0].Headers {
			if h.Key == "traceId" {
				trace = string(h.Value)
			}
		}
		if trace != "trace-e2e-1" || string(recs[0].Key) != id {
			t.Errorf("%s record: key %q traceId %q", topic, recs[0].Key, trace)
		}
	}
	list := s.Do(t, http.MethodGet, "/api/jobs?status=COMPLETED&traceId=trace-e2e-1", "").JSON(t)
	if list["totalElements"] != float64(1) {
		t.Errorf("list = %v", list)
	}
}

func TestFailureRetriesWithGrowingDelaysThenDeadLetters(t *testing.T) {
	s := startStack(t, nil)
	id := s.Submit(t, stacktest.JobJSON(`{"action":"LOG","message":"about to fail"},{"action":"FAIL","message":"simulated crash"}`, 2))
	job := s.WaitStatus(t, id, "FAILED")
	if job["attempts"] != float64(3) {
		t.Fatalf("attempts = %v, want 3", job["attempts"])
	}

	// Three attempts. Each failure scheduled the next one after a growing
	// delay (base 300 ms: 300 ms, then 600 ms, ±20 % jitter), and no retry
	// was dispatched before it was due. The delay is read from the attempt
	// row (retry_at and finished_at share one now()), not from the gaps
	// between dispatches: those add the attempt's run and the result's hops,
	// which a loaded machine stretches by hundreds of milliseconds.
	rows, err := s.DBs["scheduler"].Query(context.Background(),
		`SELECT dispatched_at, finished_at, retry_at FROM job_attempts WHERE job_id = $1 ORDER BY attempt`, id)
	if err != nil {
		t.Fatal(err)
	}
	type attemptTimes struct {
		dispatched      time.Time
		finished, retry *time.Time
	}
	var at []attemptTimes
	for rows.Next() {
		var a attemptTimes
		if err := rows.Scan(&a.dispatched, &a.finished, &a.retry); err != nil {
			t.Fatal(err)
		}
		at = append(at, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(at) != 3 {
		t.Fatalf("attempt rows = %d", len(at))
	}
	wantDelay := []struct{ lo, hi time.Duration }{
		{240 * time.Millisecond, 360 * time.Millisecond},
		{480 * time.Millisecond, 720 * time.Millisecond},
	}
	for i, w := range wantDelay {
		a, next := at[i], at[i+1]
		if a.finished == nil || a.retry == nil {
			t.Fatalf("attempt %d: finished_at %v retry_at %v, want both set", i+1, a.finished, a.retry)
		}
		if d := a.retry.Sub(*a.finished); d < w.lo || d > w.hi {
			t.Errorf("attempt %d scheduled its retry after %v, want %v–%v", i+1, d, w.lo, w.hi)
		}
		if next.dispatched.Before(*a.retry) {
			t.Errorf("attempt %d dispatched at %v, before its retry was due at %v", i+2, next.dispatched, *a.retry)
		}
	}
	if at[2].retry != nil {
		t.Errorf("the last attempt scheduled a retry at %v, want none (dead-lettered)", *at[2].retry)
	}

	testwait.Eventually(t, stacktest.Bound, "the dead letter is persisted", func() bool {
		return s.Count(t, "dlq", `SELECT count(*) FROM dead_letters WHERE job_id = $1`, id) == 1
	})
	dl := s.Do(t, http.MethodGet, "/api/dlq", "").JSON(t)
	entries := dl["content"].([]any)
	if len(entries) != 1 {
		t.Fatalf("dlq = %v", dl)
	}
	e := entries[0].(map[string]any)
	if e["jobId"] != id || e["reason"] != "RETRIES_EXHAUSTED" || len(e["attempts"].([]any)) != 3 {
		t.Errorf("entry = %v", e)
	}
	for _, a := range e["attempts"].([]any) {
		a := a.(map[string]any)
		if a["error"] == nil || a["error"] == "" || a["dispatchedAt"] == nil {
			t.Errorf("attempt summary lacks error or timing: %v", a)
		}
	}
	ex := s.Do(t, http.MethodGet, "/api/jobs/"+id+"/executions", "").JSON(t)
	if ex["totalElements"] != float64(3) {
		t.Errorf("executions = %v", ex)
	}
}

func TestZeroRetriesGoStraightToDeadLetter(t *testing.T) {
	s := startStack(t, nil)
	id := s.Submit(t, stacktest.JobJSON(`{"action":"FAIL","message":"immediate failure"}`, 0))
	job := s.WaitStatus(t, id, "FAILED")
	if job["attempts"] != float64(1) {
		t.Errorf("attempts = %v, want 1", job["attempts"])
	}
	testwait.Eventually(t, stacktest.Bound, "the dead letter is persisted", func() bool {
		return s.Count(t, "dlq", `SELECT count(*) FROM dead_letters WHERE job_id = $1`, id) == 1
	})
}

func TestFailTimesThenSucceeds(t *testing.T) {
	s := startStack(t, nil)
	id := s.Submit(t, stacktest.JobJSON(`{"action":"FAIL","message":"flaky","failTimes":2},{"action":"LOG","message":"ok"}`, 3))
	job := s.WaitStatus(t, id, "COMPLETED")
	if job["attempts"] != float64(3) {
		t.Errorf("attempts = %v, want 3", job["attempts"])
	}
	if n := s.Count(t, "dlq", `SELECT count(*) FROM dead_letters`); n != 0 {
		t.Errorf("dead letters = %d", n)
	}
}

func TestIdempotencyKeyAndCancel(t *testing.T) {
	s := startStack(t, nil)
	body := stacktest.JobJSON(`{"action":"SLEEP","durationMs":60000}`, 0)
	a := s.Submit(t, body, "Idempotency-Key", "k-1")
	b := s.Submit(t, body, "Idempotency-Key", "k-1")
	if a != b {
		t.Fatalf("same Idempotency-Key gave %s and %s", a, b)
	}
	// A 60 s SLEEP parks its job at once (WORKER_PARK_THRESHOLD): it is
	// RUNNING for the few milliseconds of its first attempt, then WAITING.
	// Either is a job in flight, which a DELETE cancels.
	s.WaitStatus(t, a, "RUNNING", "WAITING")
	r := s.Do(t, http.MethodDelete, "/api/jobs/"+a, "")
	if r.Status != http.StatusOK || r.JSON(t)["status"] != "CANCELLED" {
		t.Fatalf("DELETE = %d %s", r.Status, r.Body)
	}
	r = s.Do(t, http.MethodDelete, "/api/jobs/"+a, "")
	if r.Status != http.StatusConflict || r.JSON(t)["errorCode"] != "API.JOB_NOT_CANCELLABLE" {
		t.Fatalf("second DELETE = %d %s", r.Status, r.Body)
	}
	if n := s.Count(t, "scheduler", `SELECT count(*) FROM jobs`); n != 1 {
		t.Errorf("scheduler jobs = %d, want 1", n)
	}
}

func TestErrorsAreStructured(t *testing.T) {
	s := startStack(t, nil)
	cases := []struct {
		method, path, body, ctype string
		status                    int
		code                      string
	}{
		{"POST", "/api/jobs", `{"jobType":"SIMULATION","payload":{"steps":[]}}`, "application/json", 400, "API.INVALID_REQUEST"},
		{"POST", "/api/jobs", `{not json`, "application/json", 400, "API.INVALID_REQUEST"},
		{"POST", "/api/jobs", `{}`, "text/plain", 415, "API.UNSUPPORTED_MEDIA_TYPE"},
		{"GET", "/api/jobs/not-a-uuid", "", "", 400, "API.INVALID_JOB_ID"},
		{"GET", "/api/jobs/6f1f5d6e-8d7e-4c43-9a55-1f1d4b0c2e10", "", "", 404, "API.JOB_NOT_FOUND"},
		{"GET", "/api/nothing", "", "", 404, "API.NOT_FOUND"},
		{"PUT", "/api/jobs", "", "", 405, "API.METHOD_NOT_ALLOWED"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, s.APIURL+c.path, strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != c.status || body["errorCode"] != c.code || body["traceId"] == nil || body["timestamp"] == nil || body["message"] == "" {
			t.Errorf("%s %s: %d %v; want %d %s", c.method, c.path, resp.StatusCode, body, c.status, c.code)
		}
	}
	// A body over the limit is refused with 413 before it reaches the handler.
	big := `{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"` + string(make([]byte, 300<<10)) + `"}]}}`
	r := s.Do(t, http.MethodPost, "/api/jobs", big)
	if r.Status != http.StatusRequestEntityTooLarge || r.JSON(t)["errorCode"] != "API.PAYLOAD_TOO_LARGE" {
		t.Errorf("big body = %d %s", r.Status, r.Body)
	}
}
