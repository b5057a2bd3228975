package faults

import (
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/jobweaver/jobweaver/shared/faulttest"
	"github.com/jobweaver/jobweaver/shared/stacktest"
)

// TestMain runs the tests, or in a re-executed child, a stack to kill.
func TestMain(m *testing.M) { faulttest.Main(m) }

// stackVars are the settings of every stack of the suite: fast ticks and
// retries, and the loopback allowed for HTTP_CALL.
var stackVars = map[string]string{
	"TICK_INTERVAL":            "50ms",
	"ESM_BATCH_WINDOW":         "1ms",
	"ESM_POLLERS":              "1",
	"SCHEDULER_BACKOFF_BASE":   "200ms",
	"SCHEDULER_BACKOFF_JITTER": "0.2",
	"SCHEDULER_IDLE_POLL":      "20ms",
	"WORKER_HTTP_ALLOWLIST":    "127.0.0.1/32",
}

// vars is stackVars with more.
func vars(more map[string]string) map[string]string {
	all := maps.Clone(stackVars)
	maps.Copy(all, more)
	return all
}

// startStack runs an in-process stack with vars(more).
func startStack(t *testing.T, name string, more map[string]string) *stacktest.Stack {
	t.Helper()
	cfg := stacktest.Config(t, name, vars(more))
	if dir := os.Getenv("FAULTS_LOGS"); dir != "" { // the stack's logs, for a look after a failure
		f, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		cfg.Logs = f
	}
	return stacktest.Start(t, cfg)
}
