package devstack

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// The crash test runs a stack in a child process (this test binary,
// re-executed) so that it can kill it with SIGKILL.
const childEnv = "JOBWEAVER_DEVSTACK_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

// runChild starts a stack from the environment and runs until killed.
func runChild() int {
	cfg, err := ConfigFromEnv(config.FromOS())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg.KafkaPort = 0
	cfg.DatabasePrefix = os.Getenv(childEnv)
	cfg.Logs = io.Discard
	if _, err := Start(context.Background(), cfg, io.Discard); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	select {}
}

// child starts the stack in a child process and waits until it serves;
// kill ends it with SIGKILL and waits for it to be gone.
func child(t *testing.T, cfg Config, env ...string) (kill func(), _ state) {
	t.Helper()
	_ = os.Remove(cfg.DataDir + "/" + stateName)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		childEnv+"="+cfg.DatabasePrefix,
		"DATA_DIR="+cfg.DataDir,
		"DATABASE_URL="+cfg.DatabaseURL,
		"API_ADDR=127.0.0.1:0", "SCHEDULER_ADDR=127.0.0.1:0", "WORKER_ADDR=127.0.0.1:0",
		"TICK_INTERVAL=200ms", "ESM_POLLERS=1",
	)
	cmd.Env = append(cmd.Env, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var killed bool
	kill = func() {
		if !killed {
			killed = true
			_ = cmd.Process.Kill()
			// Killed on purpose: Wait reports the signal. errcheck wants the
			// dropped error visible.
			//lint:ignore S1005 the blank assignment is for errcheck
			_ = <-exited
		}
	}
	t.Cleanup(kill)
	deadline := time.After(bound)
	for {
		if st, err := readState(cfg.DataDir); err == nil && st.PID == cmd.Process.Pid {
			return kill, st
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the stack exited: %v\n%s", err, stderr.String())
		case <-deadline:
			t.Fatalf("the stack did not start\n%s", stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestStackSurvivesAHardKill(t *testing.T) {
	cfg := testConfig(t)
	kill, st := child(t, cfg)

	// A job that takes a while: kill the stack while it runs.
	code, created := call(t, "POST", st.APIURL+"/api/jobs",
		`{"jobType":"SIMULATION","payload":{"steps":[{"action":"SLEEP","durationMs":1500}]},"maxRetryCount":0}`)
	id, _ := created["jobId"].(string)
	if code != 202 || id == "" {
		t.Fatalf("POST /api/jobs = %d %v", code, created)
	}
	waitStatus(t, st.APIURL, id, "RUNNING")
	kill()

	// The restarted stack finishes it: the run-job record was never
	// committed, so it is delivered again.
	_, st = child(t, cfg)
	job := waitStatus(t, st.APIURL, id, "COMPLETED")
	if job["attempts"] != float64(1) {
		t.Errorf("attempts = %v; want the same single attempt finished after the restart", job["attempts"])
	}
}

// Many jobs in every stage of their flow (running, retrying, finishing,
// dead-lettering) when the stack is killed: after a restart each one
// reaches its one right terminal state, none is stuck, and no attempt that
// had finished runs again.
func TestManyJobsSurviveAHardKill(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{} // HTTP_CALL hits per job token: once per job (durable resume), once more if the kill cut it
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Query().Get("token")]++
		mu.Unlock()
	}))
	defer target.Close()

	cfg := testConfig(t)
	env := []string{"WORKER_HTTP_ALLOWLIST=127.0.0.1/32", "SCHEDULER_BACKOFF_BASE=300ms", "ESM_BATCH_SIZE=10", "ESM_RUN_JOB_BATCH_SIZE=10"}
	kill, st := child(t, cfg, env...)

	type kind struct {
		steps      string
		maxRetry   int
		status     string
		attempts   float64
		deadLetter bool
	}
	kinds := []kind{
		{`{"action":"SLEEP","durationMs":%d}`, 1, "COMPLETED", 1, false},
		{`{"action":"FAIL","message":"flaky","failTimes":1},{"action":"SLEEP","durationMs":%d}`, 2, "COMPLETED", 2, false},
		{`{"action":"SLEEP","durationMs":%d},{"action":"FAIL","message":"always"}`, 1, "FAILED", 2, true},
	}
	type job struct {
		id, token string
		want      kind
	}
	var jobs []job
	for i := 0; i < 60; i++ {
		k := kinds[i%len(kinds)]
		token := fmt.Sprintf("job-%d", i)
		steps := fmt.Sprintf(`{"action":"HTTP_CALL","url":"%s/?token=%s"},`, target.URL, token) + fmt.Sprintf(k.steps, 100+10*(i%20))
		code, created := call(t, "POST", st.APIURL+"/api/jobs",
			fmt.Sprintf(`{"jobType":"SIMULATION","payload":{"steps":[%s]},"maxRetryCount":%d}`, steps, k.maxRetry))
		id, _ := created["jobId"].(string)
		if code != 202 || id == "" {
			t.Fatalf("POST /api/jobs = %d %v", code, created)
		}
		jobs = append(jobs, job{id, token, k})
	}
	// Kill once some jobs are done and others are mid-flight.
	terminal := func(apiURL string) int {
		n := 0
		for _, j := range jobs {
			if _, v := call(t, "GET", apiURL+"/api/jobs/"+j.id, ""); v["status"] == "COMPLETED" || v["status"] == "FAILED" {
				n++
			}
		}
		return n
	}
	testwait.Eventually(t, bound, "a quarter of the jobs finish", func() bool { return terminal(st.APIURL) >= len(jobs)/4 })
	finishedBefore := map[string]bool{}
	for _, j := range jobs {
		if _, v := call(t, "GET", st.APIURL+"/api/jobs/"+j.id, ""); v["status"] == "COMPLETED" || v["status"] == "FAILED" {
			finishedBefore[j.id] = true
		}
	}
	kill()
	if len(finishedBefore) == len(jobs) {
		t.Fatal("every job finished before the kill; the test proves nothing")
	}

	_, st = child(t, cfg, env...)
	for _, j := range jobs {
		got := waitTerminal(t, st.APIURL, j.id)
		if got["status"] != j.want.status || got["attempts"] != j.want.attempts {
			t.Errorf("job %s (%s): %v after %v attempts; want %s after %v", j.id, j.token, got["status"], got["attempts"], j.want.status, j.want.attempts)
		}
	}

	// Durable resume: each job's HTTP_CALL (step 0) is checkpointed when it
	// ends and no later attempt runs it again, so it ran once per job; only
	// one cut off by the kill before its checkpoint (at most one per job,
	// never one of a job already finished) may have run twice.
	for _, j := range jobs {
		code, ex := call(t, "GET", st.APIURL+"/api/jobs/"+j.id+"/executions", "")
		if code != 200 {
			t.Fatalf("executions = %d %v", code, ex)
		}
		runs := int(ex["totalElements"].(float64))
		mu.Lock()
		h := hits[j.token]
		mu.Unlock()
		switch {
		case runs != int(j.want.attempts):
			t.Errorf("job %s: %d executions recorded, want %v", j.token, runs, j.want.attempts)
		case finishedBefore[j.id] && h != 1:
			t.Errorf("job %s finished before the kill but its HTTP_CALL ran %d times (%d attempts); want once", j.token, h, runs)
		case h != 1 && h != 2:
			t.Errorf("job %s: its HTTP_CALL ran %d times (%d attempts); want once, or twice if the kill cut it", j.token, h, runs)
		}
	}
	// Exactly one dead letter per dead job.
	code, dl := call(t, "GET", st.APIURL+"/api/dlq?size=100", "")
	want := 0
	for _, j := range jobs {
		if j.want.deadLetter {
			want++
		}
	}
	if code != 200 || dl["totalElements"] != float64(want) {
		t.Errorf("dead letters = %d %v, want %d", code, dl["totalElements"], want)
	}
}

// waitTerminal polls the job until it is COMPLETED or FAILED.
func waitTerminal(t *testing.T, apiURL, id string) map[string]any {
	t.Helper()
	var code int
	var job map[string]any
	testwait.EventuallyState(t, bound, fmt.Sprintf("job %s ends (COMPLETED or FAILED)", id), func() bool {
		code, job = call(t, "GET", apiURL+"/api/jobs/"+id, "")
		return code == 200 && (job["status"] == "COMPLETED" || job["status"] == "FAILED")
	}, func() string { return fmt.Sprintf("stuck at %d %v", code, job) })
	return job
}
