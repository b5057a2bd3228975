package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// counter is an HTTP_CALL target that counts the calls per ?job=.
type counter struct {
	mu   sync.Mutex
	hits map[string]int
	srv  *httptest.Server
}

func newCounter(t *testing.T) *counter {
	c := &counter{hits: map[string]int{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.hits[r.URL.Query().Get("job")]++
		c.mu.Unlock()
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *counter) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits[key]
}

// step is an HTTP_CALL step that counts one run of job key.
func (c *counter) step(key string) string {
	return fmt.Sprintf(`{"action":"HTTP_CALL","url":"%s/?job=%s","timeoutMs":5000}`, c.srv.URL, key)
}

// runQueued submits n jobs (no retries) that each count their run and
// sleep sleepMs under a lease of leaseS seconds, waits for all of them,
// and checks that no job was charged for waiting: each completed on its
// one charged attempt, ran its counted step once, and was never rescued.
//
// On a badly overloaded machine an attempt may itself run past its
// deadline (the lease less WORKER_DEADLINE_MARGIN, 1 s) and yield,
// uncharged, to resume from its checkpoint. That is allowed only when the
// yielded attempt ran that long from its own start: time spent queued
// before the start must never count.
func runQueued(t *testing.T, s *stack, c *counter, n, sleepMs, leaseS int) {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s.Submit(t, fmt.Sprintf(`{"jobType":"SIMULATION","payload":{"steps":[%s,{"action":"SLEEP","durationMs":%d}]},"maxRetryCount":0}`,
			c.step(fmt.Sprint(i)), sleepMs))
	}
	yields := 0
	for i, id := range ids {
		job := s.WaitStatus(t, id, "COMPLETED", "FAILED", "CANCELLED")
		y := s.Count(t, "scheduler", `SELECT count(*) FROM job_attempts WHERE job_id = $1 AND outcome = 'YIELDED'`, id)
		yields += y
		if job["status"] != "COMPLETED" || job["attempts"] != float64(1+y) {
			t.Errorf("job %d: %v after %v attempts, %d of them yielded (%v); want COMPLETED on its one charged attempt", i, job["status"], job["attempts"], y, job["lastError"])
		}
		if h := c.count(fmt.Sprint(i)); h != 1 {
			t.Errorf("job %d ran its steps %d times; want once", i, h)
		}
	}
	if n := s.Count(t, "scheduler", `SELECT count(*) FROM job_attempts WHERE outcome = 'LEASE_EXPIRED'`); n != 0 {
		t.Errorf("%d attempts rescued as LEASE_EXPIRED; want none", n)
	}
	if n := s.Count(t, "scheduler", `SELECT count(*) FROM job_attempts WHERE outcome = 'YIELDED'
		AND finished_at - started_at < ($1 - 1) * interval '1 second'`, leaseS); n != 0 {
		t.Errorf("%d attempts yielded before running %d s from their own start: queueing was charged to the lease", n, leaseS-1)
	}
	if n := s.Count(t, "worker", `SELECT count(*) FROM executions`); n != len(ids)+yields {
		t.Errorf("%d executions; want %d, one per job and one per yield (%d)", n, len(ids)+yields, yields)
	}
	if yields > 0 {
		t.Logf("%d attempts yielded (ran past their deadline on a busy machine) and resumed uncharged", yields)
	}
}

// The case: with a 5 s lease and four attempts at once, 60 jobs
// of 1.5 s dispatched together (the old in-flight cap) wait in the run-job
// topic and in their batch far longer than their lease. Each completes,
// its steps run once: the lease starts when the attempt does, and each
// result leaves when its attempt ends.
func TestQueuedJobsAreNotChargedForWaiting(t *testing.T) {
	c := newCounter(t)
	s := startStack(t, map[string]string{
		"SCHEDULER_LEASE": "5s", "WORKER_CONCURRENCY": "4", "WORKER_IO_CONCURRENCY": "4", "SCHEDULER_MAX_IN_FLIGHT": "1000",
	})
	runQueued(t, s, c, 60, 1500, 5)
}

// A job with no retries that waits behind slow jobs longer than its lease
// completes: it is never rescued as LEASE_EXPIRED, never run twice.
func TestNoRetryJobWaitingLongerThanItsLeaseCompletes(t *testing.T) {
	// A 4 s lease leaves each 1 s job 3 s before WORKER_DEADLINE_MARGIN
	// (1 s) cuts it, room for a slow start on a busy machine; the last
	// jobs still wait longer than the lease (about 4 to 7 s).
	const lease = 4
	c := newCounter(t)
	s := startStack(t, map[string]string{
		"SCHEDULER_LEASE": fmt.Sprint(lease, "s"), "WORKER_CONCURRENCY": "1", "WORKER_IO_CONCURRENCY": "1", "SCHEDULER_MAX_IN_FLIGHT": "1000",
	})
	// Eight 1 s jobs one at a time, all dispatched at once: the last to
	// start waited about 7 s after its dispatch.
	runQueued(t, s, c, 8, 1000, lease)
	waited := s.Count(t, "scheduler", `SELECT count(*) FROM job_attempts
		WHERE started_at - dispatched_at > $1 * interval '1 second'`, lease)
	if waited == 0 {
		t.Fatalf("no job waited longer than its %d s lease between dispatch and start: the test did not test", lease)
	}
	t.Logf("%d of 8 jobs waited longer than their lease before they started", waited)
}
