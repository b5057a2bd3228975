package devstack

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/scheduler"
	"github.com/jobweaver/jobweaver/shared/testwait"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// The scenario of make clean on an external Postgres: jobs dispatched, the
// broker's log removed, the stack started again. The jobs complete at
// once, not after their 15-minute lease, and a newcomer's job is not
// stuck behind them (MaxInFlight is the re-driven jobs' number, so it
// runs only once they have finished).
func TestNewBrokerRedrivesTheWorkInFlight(t *testing.T) {
	const n = 4
	var (
		mu       sync.Mutex
		hits     = map[string]int{} // HTTP_CALL hits per token, once the first stack is gone
		release  = make(chan struct{})
		released sync.Once
		// calls that reached the target, and those cut off by the kill
		arrived, cut atomic.Int32
	)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		select { // the first stack's calls hang until it is killed
		case <-release:
			if r.Context().Err() != nil { // a call of the first stack read late
				return
			}
		case <-r.Context().Done():
			cut.Add(1)
			return
		}
		mu.Lock()
		hits[r.URL.Query().Get("token")]++
		mu.Unlock()
	}))
	defer target.Close()
	defer released.Do(func() { close(release) })

	env := map[string]string{"SCHEDULER_MAX_IN_FLIGHT": fmt.Sprint(n), "WORKER_HTTP_ALLOWLIST": "127.0.0.1/32"}
	cfg := testConfigWith(t, env)
	var childEnv []string
	for k, v := range env {
		childEnv = append(childEnv, k+"="+v)
	}
	kill, st := child(t, cfg, childEnv...)
	job := func(apiURL, token string) string {
		code, created := call(t, "POST", apiURL+"/api/jobs", fmt.Sprintf(
			`{"jobType":"SIMULATION","payload":{"steps":[{"action":"HTTP_CALL","url":"%s/?token=%s","timeoutMs":30000},{"action":"LOG","message":"done"}]},"maxRetryCount":0}`,
			target.URL, token))
		id, _ := created["jobId"].(string)
		if code != 202 || id == "" {
			t.Fatalf("POST /api/jobs = %d %v", code, created)
		}
		return id
	}
	// A job dead-lettered before the kill; its dead letter will be lost.
	code, created := call(t, "POST", st.APIURL+"/api/jobs",
		`{"jobType":"SIMULATION","payload":{"steps":[{"action":"FAIL","message":"doomed"}]},"maxRetryCount":0}`)
	doomed, _ := created["jobId"].(string)
	if code != 202 || doomed == "" {
		t.Fatalf("POST /api/jobs = %d %v", code, created)
	}
	waitStatus(t, st.APIURL, doomed, "FAILED")
	dlqPool := dbPool(t, cfg, invoke.DLQ)
	waitRows(t, dlqPool, doomed, 1)

	var ids []string
	for i := range n {
		ids = append(ids, job(st.APIURL, fmt.Sprint("job-", i)))
	}
	// Every job dispatched (its run-job in the broker, or in a worker
	// that hangs on the call), none finished.
	for _, id := range ids {
		waitStatus(t, st.APIURL, id, "RUNNING")
	}
	kill()
	// Release the calls only once the kill cut off every call of the first
	// stack that reached the target, so that none of them is counted.
	testwait.Eventually(t, bound, "the kill cuts the first stack's calls off", func() bool { return cut.Load() == arrived.Load() })
	released.Do(func() { close(release) })

	// The dlq had not stored the dead letter after all: it was in the
	// broker.
	if _, err := dlqPool.Exec(context.Background(), `DELETE FROM dead_letters WHERE job_id = $1`, doomed); err != nil {
		t.Fatal(err)
	}
	// make clean with an external Postgres: the broker's log goes, the
	// databases stay.
	if err := os.RemoveAll(filepath.Join(cfg.DataDir, "kafka")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	// A job the api accepted whose job-created was still in the old
	// broker, never ingested.
	var lost string
	if err := dbPool(t, cfg, invoke.API).QueryRow(ctx, `
		INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, created_at, created_by)
		VALUES (gen_random_uuid(), 'SIMULATION', '{"steps":[{"action":"LOG","message":"lost"}]}', 0, 'trace-lost', now(), 'jwt:lost')
		RETURNING id::text`).Scan(&lost); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	s, err := Start(ctx, cfg, &out)
	if err != nil {
		t.Fatalf("Start: %v\n%s", err, out.String())
	}
	t.Cleanup(s.Close)
	for _, want := range []string{fmt.Sprintf("re-drove %d RUNNING jobs", n), "sent 1 accepted jobs the scheduler had not ingested and 1 dead letters"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the start does not say %q:\n%s", want, out.String())
		}
	}
	newcomer := job(s.APIURL, "newcomer")
	for _, id := range append(ids, newcomer, lost) {
		if j := waitStatus(t, s.APIURL, id, "COMPLETED"); j["attempts"] != float64(1) {
			t.Errorf("job %s: attempts = %v; want 1 (a re-drive charges no attempt)", id, j["attempts"])
		}
	}
	waitRows(t, dlqPool, doomed, 1) // the dead letter, stored once
	// The re-sent job-created names the job's caller.
	var by string
	if err := dbPool(t, cfg, invoke.Scheduler).QueryRow(ctx, `SELECT created_by FROM jobs WHERE id = $1::uuid`, lost).Scan(&by); err != nil || by != "jwt:lost" {
		t.Errorf("the re-ingested job's createdBy = %q (%v), want jwt:lost", by, err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if h := hits[fmt.Sprint("job-", i)]; h != 1 {
			t.Errorf("job-%d called %d times after the restart; want once (the re-driven attempt)", i, h)
		}
	}

	// The new broker is recorded: the next start re-drives nothing.
	s.Close()
	out.Reset()
	s2, err := Start(ctx, cfg, &out)
	if err != nil {
		t.Fatalf("Start: %v\n%s", err, out.String())
	}
	t.Cleanup(s2.Close)
	if strings.Contains(out.String(), "re-drove") {
		t.Errorf("a restart on the same broker re-drove work:\n%s", out.String())
	}
}

// Without a recorded broker and with the embedded broker's log in place
// (databases from before the record existed), nothing is re-driven; the
// ID is recorded.
func TestKnownBrokerIsRecordedWithoutRedrive(t *testing.T) {
	cfg := testConfig(t)
	s := start(t, cfg)
	id := submit(t, s.APIURL)
	waitStatus(t, s.APIURL, id, "COMPLETED")
	s.Close()

	sched, pool := schedulerOn(t, cfg)
	recorded, err := sched.Broker(context.Background())
	if err != nil || !strings.HasPrefix(recorded, "jobweaver-") {
		t.Fatalf("recorded broker = %q, %v; want the embedded broker's own ID", recorded, err)
	}
	// Forget the record: the next start records the same ID again and
	// re-drives nothing (the broker's log is there).
	if _, err := pool.Exec(context.Background(), `DELETE FROM broker_identity`); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s2, err := Start(context.Background(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s2.Close)
	if strings.Contains(out.String(), "re-drove") {
		t.Errorf("re-drove work on a known broker:\n%s", out.String())
	}
	if again, err := sched.Broker(context.Background()); err != nil || again != recorded {
		t.Errorf("recorded broker after restart = %q, %v; want %q (the log kept its cluster ID)", again, err, recorded)
	}
}

// dbPool is a pool on cfg's database of function fn, closed at the end.
func dbPool(t *testing.T, cfg Config, fn string) *pgxpool.Pool {
	t.Helper()
	url, err := pgdb.WithDatabase(cfg.DatabaseURL, cfg.DatabasePrefix+"_"+fn)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgdb.Open(context.Background(), url, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// waitRows waits until the dlq holds want entries for job.
func waitRows(t *testing.T, dlq *pgxpool.Pool, job string, want int) {
	t.Helper()
	var n int
	testwait.EventuallyState(t, bound, fmt.Sprintf("the dlq holds %d entries for job %s", want, job), func() bool {
		if err := dlq.QueryRow(context.Background(), `SELECT count(*) FROM dead_letters WHERE job_id = $1`, job).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == want
	}, func() string { return fmt.Sprintf("%d entries", n) })
}

// schedulerOn is a scheduler service on cfg's scheduler database, and
// its pool.
func schedulerOn(t *testing.T, cfg Config) (*scheduler.Service, *pgxpool.Pool) {
	t.Helper()
	url, err := pgdb.WithDatabase(cfg.DatabaseURL, cfg.DatabasePrefix+"_"+invoke.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgdb.Open(context.Background(), url, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	svc, err := scheduler.New(cfg.Scheduler, &wiring.Deps{Pool: pool, Relay: &outbox.Relay{Pool: pool}})
	if err != nil {
		t.Fatal(err)
	}
	return svc, pool
}

// A restarted stack sends what the api's and the worker's outboxes hold:
// rows a crash left committed but unsent, or sent but not yet deleted.
// Each sweeps once, sweepAge after it starts, with no request or batch
// coming.
func TestStartSendsLeftoverOutboxRows(t *testing.T) {
	cfg := testConfig(t)
	s := start(t, cfg)
	id := submit(t, s.APIURL)
	waitStatus(t, s.APIURL, id, "COMPLETED")
	s.Close()

	left := map[string]envelope.Envelope{}
	for _, fn := range []string{invoke.API, invoke.Worker} {
		e, err := envelope.New(envelope.TypeJobCompleted, "trace-left", uuid.NewString(), envelope.AttemptResult{Attempt: 1})
		if err != nil {
			t.Fatal(err)
		}
		pool := dbPool(t, cfg, fn)
		tx, err := pool.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := outbox.Add(context.Background(), tx, e); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
		left[fn] = e
	}

	s2 := start(t, cfg)
	for fn, e := range left {
		pool := dbPool(t, cfg, fn)
		testwait.Eventually(t, bound, fmt.Sprintf("the %s outbox's left row (job %s) to go", fn, e.JobID), func() bool {
			var n int
			if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n == 0
		})
	}
	sent := map[string]bool{}
	for _, r := range kafkatest.ReadTopic(t, s2.Brokers, envelope.TopicJobCompleted, 10*time.Second) {
		if e, err := envelope.Decode(r.Value); err == nil {
			sent[e.JobID] = true
		}
	}
	for fn, e := range left {
		if !sent[e.JobID] {
			t.Errorf("the %s outbox's left row (job %s) is not on job-completed", fn, e.JobID)
		}
	}
}
