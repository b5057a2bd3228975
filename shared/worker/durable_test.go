package worker_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/scheduler"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// counter is a counting HTTP target: each path's hits are counted; the
// first hit of block waits until release is closed, then answers 500.
type counter struct {
	mu      sync.Mutex
	hits    map[string]int
	block   string
	release chan struct{}
	blocked chan struct{}
}

func newCounter(tb testing.TB, block string) (*counter, *httptest.Server) {
	c := &counter{hits: map[string]int{}, block: block, release: make(chan struct{}), blocked: make(chan struct{})}
	srv := httptest.NewServer(c)
	tb.Cleanup(srv.Close)
	return c, srv
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.hits[r.URL.Path]++
	n := c.hits[r.URL.Path]
	c.mu.Unlock()
	if r.URL.Path == c.block && n == 1 {
		close(c.blocked)
		<-c.release
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (c *counter) get(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits[path]
}

func httpStep(srv *httptest.Server, path string) string {
	return `{"action":"HTTP_CALL","url":"` + srv.URL + path + `","timeoutMs":30000}`
}

// records returns the records on topic for jobID not in seen, and marks
// them seen.
func records(tb testing.TB, brokers []string, topic, jobID string, seen map[string]bool) []*kgo.Record {
	tb.Helper()
	n := kafkatest.Count(tb, brokers, topic)
	if n == 0 {
		return nil
	}
	envs, recs := read(tb, brokers, topic, int(n))
	var out []*kgo.Record
	for i, e := range envs {
		if e.JobID == jobID && !seen[e.EventID] {
			seen[e.EventID] = true
			out = append(out, recs[i])
		}
	}
	return out
}

// A worker dies after step 2 of 4 (its attempt never ends); the job's next
// dispatch resumes at step 3: each finished step's side effect happens
// exactly once, and the step the crash cut runs again from its start.
func TestResumeAfterACrashBetweenSteps(t *testing.T) {
	c, srv := newCounter(t, "/c")
	cfg := worker.Config{HTTPAllowlist: []string{"127.0.0.1/32"}}
	b, sched, _ := setupPair(t, cfg)
	runs := dispatch(t, b, sched, 1, httpStep(srv, "/a"), httpStep(srv, "/b"), httpStep(srv, "/c"), httpStep(srv, "/d"))

	// The doomed worker: it runs the record and then hangs in step 3 for
	// good, as a crashed process would (it never reports).
	doomedCfg := cfg
	doomedCfg.Steps = b.probe.registry()
	doomed, err := worker.New(doomedCfg, b.deps)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = doomed.HandleKafka(context.Background(), batch(runs[0])) }()
	t.Cleanup(func() { close(c.release); <-done })
	select {
	case <-c.blocked:
	case <-time.After(15 * time.Second):
		t.Fatal("step 3 was never reached")
	}

	// The job is dispatched again (as after a lost lease) and runs on a
	// live worker.
	if n, err := sched.Redrive(context.Background()); err != nil || n != 1 {
		t.Fatalf("Redrive = %d, %v", n, err)
	}
	all, _ := read(t, b.brokers, envelope.TopicRunJob, 2)
	again := all[0]
	if again.EventID == runs[0].EventID {
		again = all[1]
	}
	if err := b.svc.HandleKafka(context.Background(), batch(again)); err != nil {
		t.Fatal(err)
	}
	done2, _ := read(t, b.brokers, envelope.TopicJobCompleted, 1)
	r := attemptResult(t, done2[0])
	if got := stepStatuses(r); got != "HTTP_CALL:SUCCEEDED,HTTP_CALL:SUCCEEDED,HTTP_CALL:SUCCEEDED,HTTP_CALL:SUCCEEDED" {
		t.Fatalf("steps %s", got)
	}
	if !r.Steps[0].Resumed || !r.Steps[1].Resumed || r.Steps[2].Resumed || r.Steps[3].Resumed {
		t.Fatalf("resumed flags: %+v", r.Steps)
	}
	for path, want := range map[string]int{"/a": 1, "/b": 1, "/c": 2, "/d": 1} {
		if got := c.get(path); got != want {
			t.Errorf("%s hit %d times; want %d", path, got, want)
		}
	}
}

// drive runs a job's dispatches through the worker, each invocation cut
// after invocation, and feeds the results to the scheduler, until the
// job is final or rounds run out. It returns the results, in order.
func drive(t *testing.T, b *bundle, sched *scheduler.Service, jobID string, invocation time.Duration, rounds int,
	final func() bool) []envelope.AttemptResult {
	t.Helper()
	seenRun, seenRes := map[string]bool{}, map[string]bool{}
	var out []envelope.AttemptResult
	for range rounds {
		if final() {
			return out
		}
		runs := records(t, b.brokers, envelope.TopicRunJob, jobID, seenRun)
		if len(runs) == 0 {
			time.Sleep(200 * time.Millisecond)
			if _, err := sched.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), invocation)
		err := b.svc.HandleKafka(ctx, kafka.Event("test", runs))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		res := append(records(t, b.brokers, envelope.TopicJobFailed, jobID, seenRes),
			records(t, b.brokers, envelope.TopicJobCompleted, jobID, seenRes)...)
		for _, r := range res {
			e, err := envelope.Decode(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, attemptResult(t, e))
		}
		if err := sched.HandleKafka(context.Background(), kafka.Event("test", res)); err != nil {
			t.Fatal(err)
		}
	}
	if !final() {
		t.Fatalf("job %s not final after %d rounds: %+v\nworker log:\n%s", jobID, rounds, out, b.logs.String())
	}
	return out
}

// A job whose steps take longer than one invocation completes over
// several, its cut attempts yielded and uncharged (the job has no
// retries), each step's side effect once.
func TestStepsPastTheTimeoutCompleteWithoutARetry(t *testing.T) {
	c, srv := newCounter(t, "")
	b, sched, count := setupPair(t, worker.Config{HTTPAllowlist: []string{"127.0.0.1/32"},
		DeadlineMargin: 300 * time.Millisecond, Durable: worker.DurableConfig{ParkThreshold: -1}})
	sleep := `{"action":"SLEEP","durationMs":800}`
	runs := dispatch(t, b, sched, 1, httpStep(srv, "/1"), sleep, httpStep(srv, "/2"), sleep, httpStep(srv, "/3"), sleep, httpStep(srv, "/4"))
	id := runs[0].JobID
	completed := func() bool {
		return count(`SELECT count(*) FROM jobs WHERE id = $1::uuid AND status = 'COMPLETED'`, id) == 1
	}
	res := drive(t, b, sched, id, 1500*time.Millisecond, 20, completed)
	yields := 0
	for _, r := range res {
		if r.Yielded {
			yields++
		}
	}
	if yields == 0 || len(res) != yields+1 {
		t.Fatalf("%d results, %d yielded; want some yields and then the completion: %+v", len(res), yields, res)
	}
	for _, p := range []string{"/1", "/2", "/3", "/4"} {
		if n := c.get(p); n != 1 {
			t.Errorf("%s hit %d times; want 1", p, n)
		}
	}
	if n := count(`SELECT count(*) FROM job_attempts WHERE job_id = $1::uuid AND outcome = 'YIELDED'`, id); n != yields {
		t.Fatalf("%d YIELDED attempt rows; want %d", n, yields)
	}
}

// A step longer than any invocation yields without progress again and
// again: after MaxIdleYields in a row the job fails for good.
func TestYieldLoopWithoutProgressIsDeadLettered(t *testing.T) {
	b, sched, count := setupPair(t, worker.Config{DeadlineMargin: 300 * time.Millisecond,
		Durable: worker.DurableConfig{ParkThreshold: -1, MaxIdleYields: 3}})
	runs := dispatch(t, b, sched, 1, `{"action":"LOG","message":"first"}`, `{"action":"SLEEP","durationMs":5000}`)
	id := runs[0].JobID
	failed := func() bool {
		return count(`SELECT count(*) FROM jobs WHERE id = $1::uuid AND status = 'FAILED'`, id) == 1
	}
	res := drive(t, b, sched, id, time.Second, 20, failed)
	last := res[len(res)-1]
	if last.ErrorCode != worker.CodeStepExceedsTimeout || !last.Permanent || last.Yielded {
		t.Fatalf("last result %+v", last)
	}
	// The first attempt made progress (LOG); then three idle yields, the
	// third of which fails.
	if len(res) != 3 && len(res) != 4 {
		t.Fatalf("%d results: %+v", len(res), res)
	}
	if n := count(`SELECT count(*) FROM job_attempts WHERE job_id = $1::uuid AND dead_letter_id IS NOT NULL`, id); n != 1 {
		t.Fatalf("%d dead-lettered attempts; want 1", n)
	}
}

// A long SLEEP parks the job: WAITING with its wake time, no slot held
// (the invocation ends and another job runs meanwhile), and it completes
// after the wake, resuming after the SLEEP.
func TestLongSleepParksAndWakes(t *testing.T) {
	b, sched, count := setupPair(t, worker.Config{Concurrency: 1, IOConcurrency: 1,
		Durable: worker.DurableConfig{ParkThreshold: time.Second}})
	runs := dispatch(t, b, sched, 1, `{"action":"COUNT","key":"before"}`, `{"action":"SLEEP","durationMs":3000}`, `{"action":"COUNT","key":"after"}`)
	other := dispatch(t, b, sched, 1, `{"action":"COUNT","key":"other"}`)
	id := runs[0].JobID
	t0 := time.Now()
	if err := b.svc.HandleKafka(context.Background(), batch(runs[0], other[0])); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took >= 3*time.Second {
		t.Fatalf("the invocation took %s: the SLEEP held it", took)
	}
	if b.probe.count("other") != 1 || b.probe.count("before") != 1 || b.probe.count("after") != 0 {
		t.Fatalf("counts before=%d after=%d other=%d", b.probe.count("before"), b.probe.count("after"), b.probe.count("other"))
	}
	seenRes := map[string]bool{}
	res := records(t, b.brokers, envelope.TopicJobFailed, id, seenRes)
	if len(res) != 1 {
		t.Fatalf("%d results for the parked job", len(res))
	}
	e, _ := envelope.Decode(res[0].Value)
	r := attemptResult(t, e)
	if r.ParkUntil == nil || r.ErrorCode != worker.CodeParked || stepStatuses(r) != "COUNT:SUCCEEDED,SLEEP:PARKED,COUNT:SKIPPED" {
		t.Fatalf("park result %+v", r)
	}
	if err := sched.HandleKafka(context.Background(), kafka.Event("test", res)); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM jobs WHERE id = $1::uuid AND status = 'WAITING'
	                 AND abs(extract(epoch FROM next_run_at - $2::timestamptz)) < 0.01`, id, *r.ParkUntil); n != 1 {
		t.Fatal("the job is not WAITING until the park's wake time")
	}
	if n := count(`SELECT count(*) FROM jobs WHERE id = $1::uuid AND attempts = 1 AND budget_base = 1`, id); n != 1 {
		t.Fatal("the park was charged")
	}
	completed := func() bool {
		return count(`SELECT count(*) FROM jobs WHERE id = $1::uuid AND status = 'COMPLETED'`, id) == 1
	}
	// Seen: the first run-job record; the wake dispatches a new one.
	out := drive(t, b, sched, id, 30*time.Second, 60, completed)
	if len(out) == 0 {
		t.Fatal("no result after the wake")
	}
	fin := out[len(out)-1]
	if stepStatuses(fin) != "COUNT:SUCCEEDED,SLEEP:SUCCEEDED,COUNT:SUCCEEDED" || !fin.Steps[0].Resumed || !fin.Steps[1].Resumed {
		t.Fatalf("after the wake: %+v", fin)
	}
	if time.Since(t0) < 3*time.Second {
		t.Fatal("completed before the SLEEP was over")
	}
	if b.probe.count("before") != 1 || b.probe.count("after") != 1 {
		t.Fatalf("counts before=%d after=%d", b.probe.count("before"), b.probe.count("after"))
	}
}

func TestDurableConfigFromEnv(t *testing.T) {
	cases := []struct {
		env       map[string]string
		threshold time.Duration
		idle      int
		bad       string
	}{
		{env: map[string]string{}, threshold: 2 * time.Second, idle: 3},
		{env: map[string]string{"WORKER_PARK_THRESHOLD": "1500ms", "WORKER_MAX_IDLE_YIELDS": "5"}, threshold: 1500 * time.Millisecond, idle: 5},
		{env: map[string]string{"WORKER_PARK_THRESHOLD": "-1s"}, threshold: -time.Second, idle: 3},
		{env: map[string]string{"WORKER_PARK_THRESHOLD": "6m"}, bad: "WORKER_PARK_THRESHOLD"},
		{env: map[string]string{"WORKER_MAX_IDLE_YIELDS": "0"}, bad: "WORKER_MAX_IDLE_YIELDS"},
	}
	for _, c := range cases {
		env := config.FromMap(c.env)
		cfg := worker.ConfigFromEnv(env)
		switch {
		case c.bad != "":
			if env.Err() == nil || !strings.Contains(env.Err().Error(), c.bad) {
				t.Errorf("%v: err = %v, want one naming %s", c.env, env.Err(), c.bad)
			}
		case env.Err() != nil || cfg.Durable.ParkThreshold != c.threshold || cfg.Durable.MaxIdleYields != c.idle:
			t.Errorf("%v: %+v, %v", c.env, cfg.Durable, env.Err())
		}
	}
}
