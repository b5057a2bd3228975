// Package stacktest starts a private local stack (devstack) for a test and
// talks to it over HTTP: free ports, a fresh data folder and its own
// databases on the test Postgres server, all gone when the test ends.
//
// Only tests import it: it reaches the server through pgtest.
package stacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
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

// Bound turns a hang into a failure: it limits starting a stack, one HTTP
// request and every wait. No test asserts on latency.
const Bound = 90 * time.Second

// poll is the pause between two looks of a wait.
const poll = 25 * time.Millisecond

// seq numbers the stacks of this process, from a clock-derived start so a
// reused process ID does not meet a crashed run's leftover databases.
var seq atomic.Int64

func init() { seq.Store(time.Now().UnixNano() % 1e7) }

var validName = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// Config is the configuration of a private stack: vars (devstack's
// environment settings) over devstack's defaults, free loopback ports, an
// embedded broker on a free port, a data folder in t.TempDir, and
// databases jwtest_<name>_<pid>_<n>_<function> on the test server, dropped
// when the test ends. Logs are discarded.
func Config(tb testing.TB, name string, vars map[string]string) devstack.Config {
	tb.Helper()
	if !validName.MatchString(name) {
		tb.Fatalf("stacktest: name %q is not lowercase letters and digits", name)
	}
	cfg, err := devstack.ConfigFromEnv(config.FromMap(vars))
	if err != nil {
		tb.Fatal(err)
	}
	admin := pgtest.AdminDSN(tb)
	cfg.DataDir = tb.TempDir()
	cfg.DatabaseURL = admin
	cfg.KafkaPort = 0
	cfg.APIAddr, cfg.SchedulerAddr, cfg.WorkerAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DatabasePrefix = fmt.Sprintf("jwtest_%s_%d_%d", name, os.Getpid(), seq.Add(1))
	cfg.Logs = io.Discard
	prefix := cfg.DatabasePrefix
	tb.Cleanup(func() {
		for _, fn := range devstack.Functions {
			db := dbName(prefix, fn)
			if err := pgdb.DropDatabase(context.Background(), admin, db); err != nil {
				tb.Logf("stacktest: drop %s: %v", db, err)
			}
		}
	})
	return cfg
}

// dbName is a function's database, named the way devstack names it.
func dbName(prefix, fn string) string { return prefix + "_" + fn }

// Stack is a running stack with a small pool on each function's database.
type Stack struct {
	*devstack.Stack
	Prefix string                   // cfg.DatabasePrefix
	Admin  string                   // the server's maintenance database URL
	DBs    map[string]*pgxpool.Pool // function -> pool on its database
}

// Start starts the stack cfg describes (usually from Config) within Bound
// and stops it when the test ends.
func Start(tb testing.TB, cfg devstack.Config) *Stack {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Bound)
	defer cancel()
	st, err := devstack.Start(ctx, cfg, io.Discard)
	if err != nil {
		tb.Fatalf("devstack.Start: %v", err)
	}
	tb.Cleanup(st.Close)
	s := &Stack{Stack: st, Prefix: cfg.DatabasePrefix, Admin: cfg.DatabaseURL, DBs: map[string]*pgxpool.Pool{}}
	for _, fn := range devstack.Functions {
		u, err := pgdb.WithDatabase(cfg.DatabaseURL, dbName(cfg.DatabasePrefix, fn))
		if err != nil {
			tb.Fatal(err)
		}
		p, err := pgdb.Open(ctx, u, 2)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(p.Close)
		s.DBs[fn] = p
	}
	return s
}

// Response is an HTTP answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as one JSON object, failing the test otherwise.
func (r Response) JSON(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		tb.Fatalf("response %d is not a JSON object: %v: %.300s", r.Status, err, r.Body)
	}
	return m
}

var client = &http.Client{Timeout: Bound}

// Do sends a request to baseURL+path; a non-empty body is sent as JSON.
// headers are name, value pairs.
func Do(tb testing.TB, baseURL, method, path, body string, headers ...string) Response {
	tb.Helper()
	req, err := http.NewRequest(method, baseURL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return Response{resp.StatusCode, resp.Header, b}
}

// Do sends a request to the stack's API.
func (s *Stack) Do(tb testing.TB, method, path, body string, headers ...string) Response {
	tb.Helper()
	return Do(tb, s.APIURL, method, path, body, headers...)
}

// Submit posts a job and returns its ID.
func (s *Stack) Submit(tb testing.TB, body string, headers ...string) string {
	tb.Helper()
	r := s.Do(tb, http.MethodPost, "/api/jobs", body, headers...)
	if r.Status != http.StatusAccepted {
		tb.Fatalf("POST /api/jobs = %d %.300s", r.Status, r.Body)
	}
	id, _ := r.JSON(tb)["jobId"].(string)
	if id == "" {
		tb.Fatalf("no jobId in %.300s", r.Body)
	}
	return id
}

// WaitStatus polls GET /api/jobs/{id} until the job has one of the
// statuses want, and returns it.
func (s *Stack) WaitStatus(tb testing.TB, id string, want ...string) map[string]any {
	tb.Helper()
	deadline := time.Now().Add(Bound)
	var last map[string]any
	for time.Now().Before(deadline) {
		r := s.Do(tb, http.MethodGet, "/api/jobs/"+id, "")
		if r.Status == http.StatusOK {
			last = r.JSON(tb)
			for _, w := range want {
				if last["status"] == w {
					return last
				}
			}
		}
		time.Sleep(poll)
	}
	tb.Fatalf("job %s never reached %v; last seen %v", id, want, last)
	return nil
}

// Count runs a count query on a function's database.
func (s *Stack) Count(tb testing.TB, fn, sql string, args ...any) int {
	tb.Helper()
	var n int
	if err := s.DBs[fn].QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %s: %v", fn, sql, err)
	}
	return n
}

// DeadLetters lists (the first 100 entries of) the DLQ through the API.
func (s *Stack) DeadLetters(tb testing.TB) []map[string]any {
	tb.Helper()
	r := s.Do(tb, http.MethodGet, "/api/dlq?size=100", "")
	if r.Status != http.StatusOK {
		tb.Fatalf("GET /api/dlq = %d %.300s", r.Status, r.Body)
	}
	content, ok := r.JSON(tb)["content"].([]any)
	if !ok {
		tb.Fatalf("GET /api/dlq has no content list: %.300s", r.Body)
	}
	var out []map[string]any
	for _, e := range content {
		m, ok := e.(map[string]any)
		if !ok {
			tb.Fatalf("GET /api/dlq: entry %v is not an object", e)
		}
		out = append(out, m)
	}
	return out
}

// WaitDeadLetter waits until the DLQ list holds an entry that match
// accepts, and returns the whole entry (GET /api/dlq/{id}: list entries
// are summaries without the job's payload).
func (s *Stack) WaitDeadLetter(tb testing.TB, what string, match func(map[string]any) bool) map[string]any {
	tb.Helper()
	deadline := time.Now().Add(Bound)
	for time.Now().Before(deadline) {
		for _, e := range s.DeadLetters(tb) {
			if !match(e) {
				continue
			}
			id, _ := e["id"].(string)
			r := s.Do(tb, http.MethodGet, "/api/dlq/"+id, "")
			if r.Status != http.StatusOK {
				tb.Fatalf("GET /api/dlq/%s = %d %.300s", id, r.Status, r.Body)
			}
			return r.JSON(tb)
		}
		time.Sleep(2 * poll)
	}
	tb.Fatalf("no dead letter: %s", what)
	return nil
}

// JobJSON is the body of a SIMULATION job with these steps (JSON objects,
// comma-separated) and retry budget.
func JobJSON(steps string, maxRetry int) string {
	return fmt.Sprintf(`{"jobType":"SIMULATION","payload":{"steps":[%s]},"maxRetryCount":%d}`, steps, maxRetry)
}
