package devstack

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/config"
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
func child(t *testing.T, cfg Config) (kill func(), _ state) {
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
			<-exited
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
