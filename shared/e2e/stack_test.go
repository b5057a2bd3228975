package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/pgtest"
)

// bound turns a hang into a failure; no test asserts on latency.
const bound = 90 * time.Second

type stack struct {
	*devstack.Stack
	prefix string
	dbs    map[string]*pgxpool.Pool // service -> pool on its database
}

// startStack runs the platform with fast retries on free ports, its own
// data folder and its own databases (dropped at the end).
func startStack(t *testing.T, env map[string]string) *stack {
	t.Helper()
	vars := map[string]string{
		"TICK_INTERVAL":            "50ms",
		"ESM_BATCH_WINDOW":         "1ms",
		"ESM_POLLERS":              "1",
		"SCHEDULER_BACKOFF_BASE":   "300ms",
		"SCHEDULER_BACKOFF_JITTER": "0.2",
		"SCHEDULER_IDLE_POLL":      "20ms",
		"WORKER_HTTP_ALLOWLIST":    "127.0.0.1/32",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := devstack.ConfigFromEnv(config.FromMap(vars))
	if err != nil {
		t.Fatal(err)
	}
	admin := pgtest.AdminDSN(t)
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = admin
	cfg.KafkaPort = 0
	cfg.APIAddr, cfg.SchedulerAddr, cfg.WorkerAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DatabasePrefix = fmt.Sprintf("jwtest_e2e_%d_%d", os.Getpid(), time.Now().UnixNano()%1e7)
	cfg.Logs = io.Discard
	t.Cleanup(func() {
		for _, s := range []string{"api", "scheduler", "worker", "dlq"} {
			_ = pgdb.DropDatabase(context.Background(), admin, cfg.DatabasePrefix+"_"+s)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	st, err := devstack.Start(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatalf("devstack.Start: %v", err)
	}
	t.Cleanup(st.Close)
	s := &stack{Stack: st, prefix: cfg.DatabasePrefix, dbs: map[string]*pgxpool.Pool{}}
	for _, svc := range []string{"api", "scheduler", "worker", "dlq"} {
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
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (s *stack) do(t *testing.T, method, path, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.APIURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

// submit posts a job and returns its ID.
func (s *stack) submit(t *testing.T, body string, headers ...string) string {
	t.Helper()
	r := s.do(t, http.MethodPost, "/api/jobs", body, headers...)
	if r.status != http.StatusAccepted {
		t.Fatalf("POST /api/jobs = %d %s", r.status, r.body)
	}
	id, _ := r.json(t)["jobId"].(string)
	if id == "" {
		t.Fatalf("no jobId in %s", r.body)
	}
	return id
}

// waitStatus polls GET /api/jobs/{id} until the job has status want.
func (s *stack) waitStatus(t *testing.T, id, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(bound)
	var last map[string]any
	for time.Now().Before(deadline) {
		r := s.do(t, http.MethodGet, "/api/jobs/"+id, "")
		if r.status == http.StatusOK {
			last = r.json(t)
			if last["status"] == want {
				return last
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("job %s never reached %s; last seen %v", id, want, last)
	return nil
}

func (s *stack) count(t *testing.T, svc, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := s.dbs[svc].QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %s: %v", svc, sql, err)
	}
	return n
}

// eventually polls cond until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("never happened: %s", what)
}

func jobJSON(steps string, maxRetry int) string {
	return fmt.Sprintf(`{"jobType":"SIMULATION","payload":{"steps":[%s]},"maxRetryCount":%d}`, steps, maxRetry)
}

var _ = bytes.NewReader

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
