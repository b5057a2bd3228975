package lambdatest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/pgtest"
)

// bound turns a hang into a failure.
const bound = 60 * time.Second

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
		"worker":    {Timeout: 10 * time.Second, Instances: 2},
		"dlq":       {Timeout: 10 * time.Second, Instances: 1},
	}
}

type stack struct {
	*devstack.Stack
	cluster *Cluster // nil for an in-process stack
	prefix  string
	admin   string
	dbs     map[string]*pgxpool.Pool
}

// startStack runs the platform with its own data folder, databases and
// ports: in-process, or (emulated) with every function under the emulator
// behind the Lambda Invoke API. vars and fns adjust the settings.
func startStack(t *testing.T, emulated bool, vars map[string]string, fns map[string]FunctionSettings) *stack {
	t.Helper()
	all := maps.Clone(stackVars)
	maps.Copy(all, vars)
	cfg, err := devstack.ConfigFromEnv(config.FromMap(all))
	if err != nil {
		t.Fatal(err)
	}
	admin := pgtest.AdminDSN(t)
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = admin
	cfg.KafkaPort = 0
	cfg.APIAddr, cfg.SchedulerAddr, cfg.WorkerAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DatabasePrefix = fmt.Sprintf("jwtest_rie_%d_%d", os.Getpid(), time.Now().UnixNano()%1e7)
	cfg.Logs = io.Discard
	t.Cleanup(func() {
		for _, s := range Functions {
			_ = pgdb.DropDatabase(context.Background(), admin, cfg.DatabasePrefix+"_"+s)
		}
	})
	s := &stack{prefix: cfg.DatabasePrefix, admin: admin, dbs: map[string]*pgxpool.Pool{}}
	if emulated {
		binaries(t)
		settings := functionSettings()
		maps.Copy(settings, fns)
		p := &Platform{RIE: rieBin, Bootstraps: bootstraps, Env: all, Functions: settings,
			Started: func(c *Cluster) { s.cluster = c }}
		cfg.Remote = p.Remote()
		dumpOnFailure(t, &s.cluster, Functions...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	start := time.Now()
	st, err := devstack.Start(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatalf("devstack.Start: %v", err)
	}
	t.Cleanup(st.Close)
	s.Stack = st
	kind := "in-process"
	if emulated {
		kind = "under the emulator"
	}
	t.Logf("stack with the functions %s up in %v", kind, time.Since(start).Round(time.Millisecond))
	for _, svc := range Functions {
		u, err := pgdb.WithDatabase(admin, cfg.DatabasePrefix+"_"+svc)
		if err != nil {
			t.Fatal(err)
		}
		p, err := pgdb.Open(ctx, u, 2)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		s.dbs[svc] = p
	}
	return s
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %.300s", r.status, err, r.body)
	}
	return m
}

func do(t *testing.T, base, method, path, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{Timeout: bound}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func (s *stack) do(t *testing.T, method, path, body string, headers ...string) response {
	t.Helper()
	return do(t, s.APIURL, method, path, body, headers...)
}

func (s *stack) submit(t *testing.T, body string, headers ...string) string {
	t.Helper()
	r := s.do(t, http.MethodPost, "/api/jobs", body, headers...)
	if r.status != http.StatusAccepted {
		t.Fatalf("POST /api/jobs = %d %.300s", r.status, r.body)
	}
	id, _ := r.json(t)["jobId"].(string)
	if id == "" {
		t.Fatalf("no jobId in %s", r.body)
	}
	return id
}

// waitStatus polls GET /api/jobs/{id} until the job has one of want.
func (s *stack) waitStatus(t *testing.T, id string, want ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(bound)
	var last map[string]any
	for time.Now().Before(deadline) {
		r := s.do(t, http.MethodGet, "/api/jobs/"+id, "")
		if r.status == http.StatusOK {
			last = r.json(t)
			for _, w := range want {
				if last["status"] == w {
					return last
				}
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("job %s never reached %v; last seen %v", id, want, last)
	return nil
}

// deadLetters lists the DLQ through the API.
func (s *stack) deadLetters(t *testing.T) []map[string]any {
	t.Helper()
	r := s.do(t, http.MethodGet, "/api/dlq?size=100", "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /api/dlq = %d %.300s", r.status, r.body)
	}
	var out []map[string]any
	for _, e := range r.json(t)["content"].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

// waitDeadLetter waits until the DLQ holds an entry that match accepts.
func (s *stack) waitDeadLetter(t *testing.T, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		for _, e := range s.deadLetters(t) {
			if match(e) {
				return e
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no dead letter: %s", what)
	return nil
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("never happened: %s", what)
}

func jobJSON(steps string, maxRetry int) string {
	return fmt.Sprintf(`{"jobType":"SIMULATION","payload":{"steps":[%s]},"maxRetryCount":%d}`, steps, maxRetry)
}

// counter counts requests to a local HTTP_CALL target.
type counter struct{ n atomic.Int32 }

func (c *counter) ServeHTTP(http.ResponseWriter, *http.Request) { c.n.Add(1) }
