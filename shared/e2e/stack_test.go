package e2e

import (
	"maps"
	"testing"

	"github.com/jobweaver/jobweaver/shared/stacktest"
)

// stackVars are the settings of every e2e stack: fast ticks and retries,
// and the loopback allowed for HTTP_CALL.
var stackVars = map[string]string{
	"TICK_INTERVAL":            "50ms",
	"ESM_BATCH_WINDOW":         "1ms",
	"ESM_POLLERS":              "1",
	"SCHEDULER_BACKOFF_BASE":   "300ms",
	"SCHEDULER_BACKOFF_JITTER": "0.2",
	"SCHEDULER_IDLE_POLL":      "20ms",
	"WORKER_HTTP_ALLOWLIST":    "127.0.0.1/32",
}

type stack struct{ *stacktest.Stack }

// startStack runs the platform in-process with stackVars, then vars, on
// free ports, with its own data folder and databases (dropped at the end).
func startStack(t *testing.T, vars map[string]string) *stack {
	t.Helper()
	all := maps.Clone(stackVars)
	maps.Copy(all, vars)
	return &stack{stacktest.Start(t, stacktest.Config(t, "e2e", all))}
}
