package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/stacktest"
)

// resumeTarget counts the requests of each path and answers each with its
// count, as JSON: the side effect of a step, and its output.
type resumeTarget struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newResumeTarget(t *testing.T) *resumeTarget {
	c := &resumeTarget{hits: map[string]int{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.hits[r.URL.Path]++
		n := c.hits[r.URL.Path]
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q,"hits":%d}`, r.URL.Path, n)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *resumeTarget) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.hits)
}

// The resume floor (issue 13) on the whole stack: a DATA_PIPELINE whose
// steps take about three times the worker's timeout, and whose steps'
// budgets (70 real HTTP_CALLs at the default 10 s timeout: 700 s) exceed
// the 600 s attempt limit SIMULATION keeps, is accepted and completes on
// its first attempt without retries: each attempt is cut by the deadline
// (YIELDED, uncharged), the next resumes at the first unfinished step, and
// every URL of the counting target is called exactly once. The later
// attempts show the finished steps resumed, and the last step's output
// carries the kept outputs.
func TestPipelineRunsPastTheWorkerTimeout(t *testing.T) {
	const (
		calls     = 70
		waits     = 6
		waitMs    = 1500
		timeout   = 4 * time.Second
		perRounds = calls / waits
	)
	target := newResumeTarget(t)
	vars := maps.Clone(stackVars)
	vars["WORKER_MAX_IDLE_YIELDS"] = "10" // a loaded machine may start an invocation late
	cfg := stacktest.Config(t, "e2e", vars)
	cfg.WorkerTimeout = timeout // under worker.MinTimeout: only these steps' lengths matter here
	s := &stack{stacktest.Start(t, cfg)}

	var steps []string
	for i := range calls {
		steps = append(steps, fmt.Sprintf(`{"id":"c%d","action":"HTTP_CALL","url":"%s/step/%d"}`, i, target.srv.URL, i))
		if i%perRounds == perRounds-1 && len(steps) < calls+waits {
			// A simulated call: no side effect, cut and run again freely.
			steps = append(steps, fmt.Sprintf(`{"action":"HTTP_CALL","latencyMs":%d}`, waitMs))
		}
	}
	steps = append(steps, `{"id":"last","action":"SCRIPT","source":"result = outputs['c0']['body']['hits']"}`)
	body := fmt.Sprintf(`{"jobType":"DATA_PIPELINE","payload":{"steps":[%s]},"maxRetryCount":0}`, strings.Join(steps, ","))
	started := time.Now()
	id := s.Submit(t, body)
	job := s.WaitStatus(t, id, "COMPLETED", "FAILED", "CANCELLED")
	took := time.Since(started)
	if job["status"] != "COMPLETED" {
		t.Fatalf("job = %v (%v); want COMPLETED with no retries allowed (yields are uncharged)", job["status"], job["lastError"])
	}
	hits := target.counts()
	for i := range calls {
		if n := hits[fmt.Sprintf("/step/%d", i)]; n != 1 {
			t.Errorf("step %d's URL was called %d times; want once", i, n)
		}
	}
	if len(hits) != calls {
		t.Errorf("the target saw %d paths; want %d: %v", len(hits), calls, hits)
	}

	ex := executionsOf(t, s, id)
	if len(ex) < 3 {
		t.Fatalf("%d executions; want at least 3 (two or more yields, then the completion): %v", len(ex), ex)
	}
	for i, e := range ex[:len(ex)-1] {
		if e["status"] != "YIELDED" || e["errorCode"] != "WORKER.YIELDED" {
			t.Errorf("execution %d = %v %v; want YIELDED", i, e["status"], e["errorCode"])
		}
	}
	if job["attempts"] != float64(len(ex)) {
		t.Errorf("the job counts %v attempts; want %d, one per execution", job["attempts"], len(ex))
	}
	last := ex[len(ex)-1]
	if last["status"] != "COMPLETED" {
		t.Fatalf("the last execution = %v; want COMPLETED", last)
	}
	// Every finished step ran in exactly one attempt: resumed in every
	// later one, SUCCEEDED (not resumed) in one.
	ran := map[int]int{}
	for i, e := range ex {
		for _, st := range stepsOf(t, e) {
			k := int(st["index"].(float64))
			switch {
			case st["status"] == "SUCCEEDED" && st["resumed"] != true:
				ran[k]++
			case st["resumed"] == true && i == 0:
				t.Errorf("step %d resumed in the first attempt", k)
			}
		}
	}
	for k := range len(steps) {
		if ran[k] != 1 {
			t.Errorf("step %d succeeded without resuming in %d attempts; want 1", k, ran[k])
		}
	}
	resumed := 0
	for _, st := range stepsOf(t, last) {
		if st["resumed"] == true {
			resumed++
		}
	}
	if resumed == 0 {
		t.Error("the completing attempt resumed no step")
	}
	out, _ := json.Marshal(stepsOf(t, last)[len(steps)-1]["output"])
	if string(out) != "1" {
		t.Errorf("the last step's output = %s; want 1 (the first call's kept output, read by the script)", out)
	}
	t.Logf("%d steps, %d attempts (%d yielded), %s, worker timeout %s", len(steps), len(ex), len(ex)-1, took.Round(time.Millisecond), timeout)
}
