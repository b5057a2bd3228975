package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A long SLEEP parks its job on the whole stack: the job shows WAITING
// with waitingUntil, other jobs run meanwhile on the only worker slot,
// and it completes after the SLEEP, each step's side effect once, the
// steps before the SLEEP resumed, not run again.
func TestLongSleepParksOnTheStack(t *testing.T) {
	c := newCounter(t)
	s := startStack(t, map[string]string{"WORKER_PARK_THRESHOLD": "1s", "WORKER_CONCURRENCY": "1", "WORKER_IO_CONCURRENCY": "1"})
	submitted := time.Now()
	id := s.Submit(t, fmt.Sprintf(`{"jobType":"SIMULATION","payload":{"steps":[%s,{"action":"SLEEP","durationMs":5000},%s]},"maxRetryCount":0}`,
		c.step("before"), c.step("after")))
	job := s.WaitStatus(t, id, "WAITING", "COMPLETED", "FAILED")
	if job["status"] != "WAITING" {
		t.Fatalf("job = %v; want WAITING", job)
	}
	until, err := time.Parse(time.RFC3339Nano, fmt.Sprint(job["waitingUntil"]))
	if err != nil || until.Before(submitted.Add(4*time.Second)) || until.After(time.Now().Add(6*time.Second)) {
		t.Fatalf("waitingUntil %v (%v); want about 5 s after submission", job["waitingUntil"], err)
	}
	// Listed as WAITING too.
	if r := s.Do(t, http.MethodGet, "/api/jobs?status=WAITING", ""); r.Status != http.StatusOK || !strings.Contains(string(r.Body), id) {
		t.Fatalf("list WAITING = %d %s", r.Status, r.Body)
	}
	// Meanwhile other jobs run on the only slot.
	for i := range 3 {
		other := s.Submit(t, fmt.Sprintf(`{"jobType":"SIMULATION","payload":{"steps":[%s]},"maxRetryCount":0}`, c.step(fmt.Sprint("other", i))))
		if j := s.WaitStatus(t, other, "COMPLETED", "FAILED"); j["status"] != "COMPLETED" {
			t.Fatalf("other job %d = %v", i, j)
		}
	}
	if time.Now().After(until) {
		t.Fatal("the other jobs finished only after the parked job's wake time: the test proves nothing")
	}
	job = s.WaitStatus(t, id, "COMPLETED", "FAILED", "CANCELLED")
	if job["status"] != "COMPLETED" || time.Now().Before(until) {
		t.Fatalf("job = %v", job)
	}
	if c.count("before") != 1 || c.count("after") != 1 {
		t.Fatalf("before ran %d times, after %d; want once each", c.count("before"), c.count("after"))
	}
	ex := executionsOf(t, s, id)
	if len(ex) != 2 || ex[0]["status"] != "PARKED" || ex[1]["status"] != "COMPLETED" {
		t.Fatalf("executions = %v", ex)
	}
	steps, _ := ex[1]["steps"].([]any)
	first, _ := steps[0].(map[string]any)
	if first["resumed"] != true {
		t.Fatalf("the first step of the woken attempt = %v; want resumed", first)
	}
}

// A WAITING job can be cancelled; it never runs again.
func TestCancelWaitingJob(t *testing.T) {
	c := newCounter(t)
	s := startStack(t, map[string]string{"WORKER_PARK_THRESHOLD": "1s"})
	id := s.Submit(t, fmt.Sprintf(`{"jobType":"SIMULATION","payload":{"steps":[{"action":"SLEEP","durationMs":3000},%s]},"maxRetryCount":0}`,
		c.step("late")))
	if job := s.WaitStatus(t, id, "WAITING", "COMPLETED", "FAILED"); job["status"] != "WAITING" {
		t.Fatalf("job = %v; want WAITING", job)
	}
	r := s.Do(t, http.MethodDelete, "/api/jobs/"+id, "")
	if r.Status != http.StatusOK {
		t.Fatalf("cancel = %d %s", r.Status, r.Body)
	}
	time.Sleep(4 * time.Second) // past the wake time
	job := s.WaitStatus(t, id, "CANCELLED", "COMPLETED", "FAILED")
	if job["status"] != "CANCELLED" || job["waitingUntil"] != nil {
		t.Fatalf("job = %v", job)
	}
	if n := c.count("late"); n != 0 {
		t.Fatalf("the cancelled job's next step ran %d times", n)
	}
}
