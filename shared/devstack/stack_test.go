package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jobweaver/jobweaver/shared/apigwtest"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/pgserver"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/testwait"
	"github.com/jobweaver/jobweaver/shared/trigger"
)

// bound only turns a hang into a failure; nothing asserts latency.
const bound = 2 * time.Minute

// testConfig is a stack on free ports, in a fresh data folder, with its
// own databases on the test Postgres server (dropped at the end).
func testConfig(t *testing.T) Config {
	t.Helper()
	return testConfigWith(t, nil)
}

// testConfigWith is testConfig read from an environment with env added.
func testConfigWith(t *testing.T, env map[string]string) Config {
	t.Helper()
	m := map[string]string{"TICK_INTERVAL": "200ms", "ESM_POLLERS": "1"}
	for k, v := range env {
		m[k] = v
	}
	cfg, err := ConfigFromEnv(config.FromMap(m))
	if err != nil {
		t.Fatal(err)
	}
	admin := pgtest.AdminDSN(t)
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = admin
	cfg.KafkaPort = 0
	cfg.APIAddr, cfg.SchedulerAddr, cfg.WorkerAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DatabasePrefix = fmt.Sprintf("jwtest_devstack_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	cfg.Logs = io.Discard
	t.Cleanup(func() {
		for _, db := range dbNames(cfg.DatabasePrefix) {
			if err := pgdb.DropDatabase(context.Background(), admin, db); err != nil {
				t.Logf("drop %s: %v", db, err)
			}
		}
	})
	return cfg
}

func start(t *testing.T, cfg Config) *Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	var out bytes.Buffer
	s, err := Start(ctx, cfg, &out)
	if err != nil {
		t.Fatalf("Start: %v\n%s", err, out.String())
	}
	t.Cleanup(s.Close)
	for _, want := range []string{s.APIURL + "/  (", s.SchedulerURL, s.WorkerURL, s.Brokers[0], s.DataDir, "curl -s -X POST " + s.APIURL + "/api/jobs"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the summary does not mention %s:\n%s", want, out.String())
		}
	}
	return s
}

func call(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	return callWith(t, method, url, body, nil)
}

// getText GETs url as a browser would and returns the status and body.
func getText(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,*/*;q=0.8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// callWith is call with request headers.
func callWith(t *testing.T, method, url, body string, header map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %d %q is not a JSON object", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

// waitStatus polls the job until it has status want.
func waitStatus(t *testing.T, apiURL, id, want string) map[string]any {
	t.Helper()
	var code int
	var job map[string]any
	testwait.EventuallyState(t, bound, fmt.Sprintf("job %s reaches %s", id, want), func() bool {
		code, job = call(t, "GET", apiURL+"/api/jobs/"+id, "")
		return code == 200 && job["status"] == want
	}, func() string { return fmt.Sprintf("%d %v", code, job) })
	return job
}

// submit posts submission to the api and returns the accepted job's ID.
func submit(t *testing.T, apiURL string) string {
	t.Helper()
	code, created := call(t, "POST", apiURL+"/api/jobs", submission)
	id, _ := created["jobId"].(string)
	if code != 202 || id == "" {
		t.Fatalf("POST /api/jobs = %d %v", code, created)
	}
	return id
}

const submission = `{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"hello"},{"action":"SLEEP","durationMs":50}]},"maxRetryCount":1}`

func TestStackRunsAJobEndToEndAndSurvivesARestart(t *testing.T) {
	cfg := testConfig(t)
	cfg.DataDir = filepath.Join(cfg.DataDir, "data") // made by Start
	cfg.DashboardDir = testDist                      // relative: Start makes it absolute
	s := start(t, cfg)

	// The data folder and the state file are the owner's alone; the
	// state holds this run's internal secret.
	if fi, err := os.Stat(cfg.DataDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("DATA_DIR mode = %v (%v); want 0700", fi.Mode().Perm(), err)
	}
	if fi, err := os.Stat(filepath.Join(cfg.DataDir, stateName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode = %v (%v); want 0600", stateName, fi.Mode().Perm(), err)
	}
	if st, err := readState(cfg.DataDir); err != nil || len(s.InternalSecret) != 64 || st.InternalSecret != s.InternalSecret {
		t.Errorf("state %+v (%v); want internalSecret %q", st, err, s.InternalSecret)
	}

	// A job submitted over HTTP runs through Kafka, the scheduler and the worker.
	id := submit(t, s.APIURL)
	waitStatus(t, s.APIURL, id, "COMPLETED")

	// The API's origin serves the dashboard too, with its deep links; the
	// API's own errors stay JSON.
	index := readTestFile(t, "index.html")
	for _, path := range []string{"/", "/jobs/" + id} {
		if code, body := getText(t, s.APIURL+path); code != 200 || body != index {
			t.Errorf("GET %s = %d %.200q; want the dashboard's index.html", path, code, body)
		}
	}
	if code, body := getText(t, s.APIURL+"/assets/index-Bx3f9a1c.js"); code != 200 || !strings.Contains(body, "test dist asset") {
		t.Errorf("GET an asset = %d %.200q", code, body)
	}
	if code, body := call(t, "GET", s.APIURL+"/api/jobs/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", ""); code != 404 || body["errorCode"] != "API.JOB_NOT_FOUND" {
		t.Errorf("an unknown job = %d %v; want the API's JSON 404", code, body)
	}
	if code, body := call(t, "GET", s.APIURL+"/api/no-such-route", ""); code != 404 || body["errorCode"] == nil {
		t.Errorf("an unknown API route = %d %v; want the API's JSON 404", code, body)
	}

	// The internal fronts serve the original's client collection.
	if code, st := call(t, "GET", s.SchedulerURL+"/internal/jobs/"+id+"/status", ""); code != 200 || st["status"] != "COMPLETED" {
		t.Errorf("scheduler status = %d %v", code, st)
	}
	if code, ex := call(t, "GET", s.WorkerURL+"/internal/executions/"+id+"?page=0&size=20", ""); code != 200 || ex["totalElements"] != float64(1) {
		t.Errorf("worker executions = %d %v", code, ex)
	}
	if code, body := call(t, "GET", s.SchedulerURL+"/api/jobs", ""); code != 404 || body["errorCode"] != "SCHEDULER.NOT_FOUND" {
		t.Errorf("public route on the scheduler front = %d %v", code, body)
	}
	// Writes to the internal routes need the run's secret, even from
	// loopback; with it, the scheduler itself answers.
	cancel := s.SchedulerURL + "/internal/jobs/" + id + "/cancel"
	if code, body := call(t, "POST", cancel, ""); code != 403 || body["errorCode"] != "SCHEDULER.FORBIDDEN" {
		t.Errorf("cancel without the secret = %d %v", code, body)
	}
	if code, body := callWith(t, "POST", cancel, "", map[string]string{InternalSecretHeader: s.InternalSecret}); code != 409 || body["errorCode"] != "SCHEDULER.JOB_TERMINAL" {
		t.Errorf("cancel of a finished job with the secret = %d %v", code, body)
	}

	// An oversized body is refused at the front with the platform's error.
	code, body := call(t, "POST", s.APIURL+"/api/jobs", strings.Repeat("x", int(cfg.APIBodyLimit)+bodySlack+1))
	if code != 413 || body["errorCode"] != "API.PAYLOAD_TOO_LARGE" {
		t.Errorf("oversized body = %d %v", code, body)
	}

	// A second stack on the same data folder is refused.
	if _, err := Start(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "another local stack") {
		t.Errorf("second Start on one DATA_DIR: %v", err)
	}

	// A one-shot invocation attaches to the running stack.
	get := getEvent(t, id)
	out, err := InvokeOnce(context.Background(), cfg, invoke.API, get, nil)
	if err != nil {
		t.Fatalf("InvokeOnce while running: %v", err)
	}
	checkGet(t, out, "COMPLETED")

	s.Close()
	if _, err := os.Stat(filepath.Join(cfg.DataDir, stateName)); !os.IsNotExist(err) {
		t.Errorf("%s left after Close: %v", stateName, err)
	}

	// Without a running stack, InvokeOnce starts the broker itself on the
	// same data folder.
	out, err = InvokeOnce(context.Background(), cfg, invoke.API, get, nil)
	if err != nil {
		t.Fatalf("InvokeOnce alone: %v", err)
	}
	checkGet(t, out, "COMPLETED")

	// Restart: the broker's log and offsets and the databases are kept,
	// and a new job runs.
	s2 := start(t, cfg)
	waitStatus(t, s2.APIURL, id, "COMPLETED")
	waitStatus(t, s2.APIURL, submit(t, s2.APIURL), "COMPLETED")
}

func getEvent(t *testing.T, id string) []byte {
	t.Helper()
	return apigwtest.Payload(t, http.MethodGet, "/api/jobs/"+id, "")
}

func checkGet(t *testing.T, out []byte, status string) {
	t.Helper()
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("result %s: %v", out, err)
	}
	var job map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &job); err != nil || resp.StatusCode != 200 || job["status"] != status {
		t.Errorf("GET via InvokeOnce = %d %s", resp.StatusCode, resp.Body)
	}
}

func TestInvokeOnceRejectsUnknownFunctionsAndBadJSON(t *testing.T) {
	cfg := Config{DataDir: t.TempDir()}
	if _, err := InvokeOnce(context.Background(), cfg, "mailer", []byte(`{}`), nil); err == nil || !strings.Contains(err.Error(), "unknown function") {
		t.Errorf("unknown function: %v", err)
	}
	if _, err := InvokeOnce(context.Background(), cfg, invoke.Worker, []byte(`{`), nil); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("bad JSON: %v", err)
	}
}

func TestStartWithoutPostgresFailsWithOneLine(t *testing.T) {
	cfg := Config{
		DataDir: t.TempDir(), DatabaseURL: "postgres://postgres@127.0.0.1:1/postgres",
		APIAddr: "127.0.0.1:0", SchedulerAddr: "127.0.0.1:0", WorkerAddr: "127.0.0.1:0",
		PostgresOptions: []pgserver.Option{pgserver.WithBinDirs()}, // as if none were installed
	}
	_, err := Start(context.Background(), cfg, nil)
	if !errors.Is(err, pgserver.ErrNoPostgres) {
		t.Fatalf("Start = %v; want ErrNoPostgres", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "no Postgres answered at postgres://postgres@127.0.0.1:1/postgres") ||
		!strings.Contains(msg, "sudo apt-get install postgresql") {
		t.Errorf("message: %s", msg)
	}
	// Everything it started is stopped: the data folder is free again.
	l, err := lockData(cfg.DataDir)
	if err != nil {
		t.Fatalf("data folder still locked: %v", err)
	}
	l.unlock()
}

// fakeRemote stands for functions run elsewhere.
type fakeRemote struct {
	mu     sync.Mutex
	env    FunctionEnv
	calls  map[string]int
	tickDL time.Duration
	closed bool
}

func (f *fakeRemote) start(_ context.Context, env FunctionEnv) (invoke.Invoker, error) {
	f.env = env
	return f, nil
}

func (f *fakeRemote) Invoke(ctx context.Context, fn string, payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[fn]++
	if kind, _ := trigger.Detect(payload); kind == trigger.Schedule {
		dl, _ := ctx.Deadline()
		f.tickDL = time.Until(dl)
		return []byte(`{"passes":1}`), nil
	}
	return []byte(`{"statusCode":200,"headers":{"Content-Type":"application/json"},"body":"{\"remote\":\"` + fn + `\"}"}`), nil
}

func (f *fakeRemote) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// With Config.Remote, the stack migrates the databases, hands each
// function its environment, drives the functions only through the
// remote invoker (ticks bounded by FUNCTION_TIMEOUT), and closes it.
func TestRemoteFunctions(t *testing.T) {
	cfg := testConfig(t)
	cfg.FunctionTimeout = 42 * time.Second
	f := &fakeRemote{calls: map[string]int{}}
	cfg.Remote = f.start
	s := start(t, cfg)
	if s.Invoker != nil {
		t.Errorf("in-process handlers are registered")
	}
	for _, fn := range Functions {
		e := f.env[fn]
		if e["KAFKA_BROKERS"] != strings.Join(s.Brokers, ",") || !strings.Contains(e["DATABASE_URL"], cfg.DatabasePrefix+"_"+fn) {
			t.Errorf("%s env = %v", fn, e)
		}
		pool, err := pgdb.Open(context.Background(), e["DATABASE_URL"], 1)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = pool.QueryRow(context.Background(), `SELECT count(*) FROM goose_db_version WHERE is_applied`).Scan(&n)
		pool.Close()
		if err != nil || n < 2 {
			t.Errorf("%s database not migrated: %d, %v", fn, n, err)
		}
	}
	for url, fn := range map[string]string{s.APIURL + "/api/jobs": "api", s.SchedulerURL + "/internal/jobs": "scheduler", s.WorkerURL + "/internal/executions/x": "worker"} {
		if status, body := call(t, http.MethodGet, url, ""); status != 200 || body["remote"] != fn {
			t.Errorf("GET %s = %d %v", url, status, body)
		}
	}
	var ticks int
	var dl time.Duration
	testwait.EventuallyState(t, bound, "two ticks reach the remote scheduler", func() bool {
		f.mu.Lock()
		ticks, dl = f.calls["scheduler"], f.tickDL
		f.mu.Unlock()
		return ticks >= 2 && dl > 0
	}, func() string { return fmt.Sprintf("%d ticks, the last with a deadline %v away", ticks, dl) })
	if dl < 30*time.Second {
		t.Errorf("tick deadline %v away; want FUNCTION_TIMEOUT (42s)", dl)
	}
	s.Close()
	if !f.closed {
		t.Error("the remote invoker was not closed")
	}

	// InvokeOnce too; the worker starts attempts through the scheduler, so
	// both are started.
	f2 := &fakeRemote{calls: map[string]int{}}
	cfg.Remote = f2.start
	out, err := InvokeOnce(context.Background(), cfg, invoke.Worker, []byte(`{"version":"2.0","routeKey":"$default","rawPath":"/health","requestContext":{"http":{"method":"GET"}}}`), nil)
	if err != nil || !strings.Contains(string(out), `remote`) || f2.calls["worker"] != 1 || !f2.closed || len(f2.env) != 2 || f2.env["scheduler"] == nil {
		t.Errorf("InvokeOnce = %s, %v; calls %v env %v closed %v", out, err, f2.calls, f2.env, f2.closed)
	}
}
