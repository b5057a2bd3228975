package emulator

import (
	"maps"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/stacktest"
)

// stackVars are the settings of every test stack: fast retries and ticks,
// one-pass ticks (the margin is the scheduler's whole timeout), and the
// loopback allowed for HTTP_CALL. In-process and emulated stacks read the
// same ones.
var stackVars = map[string]string{
	"TICK_INTERVAL":            "100ms",
	"ESM_BATCH_WINDOW":         "1ms",
	"ESM_POLLERS":              "1",
	"FUNCTION_TIMEOUT":         "30s",
	"DB_MAX_CONNS":             "4",
	"SCHEDULER_BACKOFF_BASE":   "300ms",
	"SCHEDULER_BACKOFF_JITTER": "0.2",
	"SCHEDULER_IDLE_POLL":      "20ms",
	"SCHEDULER_TICK_MARGIN":    "10s",
	"WORKER_HTTP_ALLOWLIST":    "127.0.0.1/32",
}

// functionSettings are the emulated functions' timeouts and environments.
func functionSettings() map[string]FunctionSettings {
	return map[string]FunctionSettings{
		"api":       {Timeout: 10 * time.Second, Instances: 2},
		"scheduler": {Timeout: 10 * time.Second, Instances: 2},
		"worker":    {Instances: 2}, // the deployed timeout: what the api accepts can run
		"dlq":       {Timeout: 10 * time.Second, Instances: 1},
	}
}

type stack struct {
	*stacktest.Stack
	cluster *Cluster // nil for an in-process stack
}

// startStack runs the platform with its own data folder, databases and
// ports: in-process, or (emulated) with every function under the emulator
// behind the Lambda Invoke API. vars and fns adjust the settings.
func startStack(t *testing.T, emulated bool, vars map[string]string, fns map[string]FunctionSettings) *stack {
	t.Helper()
	all := maps.Clone(stackVars)
	maps.Copy(all, vars)
	cfg := stacktest.Config(t, "rie", all)
	s := &stack{}
	kind := "in-process"
	if emulated {
		binaries(t)
		settings := functionSettings()
		maps.Copy(settings, fns)
		p := &Platform{RIE: rieBin, Bootstraps: bootstraps, Env: all, Functions: settings,
			Started: func(c *Cluster) { s.cluster = c }}
		cfg.Remote = p.Remote()
		dumpOnFailure(t, &s.cluster, Functions...)
		kind = "under the emulator"
	}
	start := time.Now()
	s.Stack = stacktest.Start(t, cfg)
	t.Logf("stack with the functions %s up in %v", kind, time.Since(start).Round(time.Millisecond))
	return s
}

// counter counts requests to a local HTTP_CALL target.
type counter struct{ n atomic.Int32 }

func (c *counter) ServeHTTP(http.ResponseWriter, *http.Request) { c.n.Add(1) }
