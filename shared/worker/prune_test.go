package worker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/wiring"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// checkpointAt writes a checkpoint of step k of job finished ago before
// now (negative: a parked SLEEP's wake time, in the future).
func checkpointAt(ctx context.Context, tb testing.TB, b *bundle, job string, k int, ago time.Duration) {
	tb.Helper()
	if _, err := b.pool.Exec(ctx, `INSERT INTO step_checkpoints (job_id, step_index, attempt, finished_at)
		VALUES ($1, $2, 1, now() - $3::float8 * interval '1 microsecond')`, job, k, float64(ago.Microseconds())); err != nil {
		tb.Fatal(err)
	}
}

func yieldAt(ctx context.Context, tb testing.TB, b *bundle, job string, ago time.Duration) {
	tb.Helper()
	if _, err := b.pool.Exec(ctx, `INSERT INTO job_yields (job_id, idle, yielded_at)
		VALUES ($1, 1, now() - $2::float8 * interval '1 microsecond')`, job, float64(ago.Microseconds())); err != nil {
		tb.Fatal(err)
	}
}

// rowsOf counts job's rows in table.
func rowsOf(ctx context.Context, tb testing.TB, b *bundle, table, job string) int {
	tb.Helper()
	var n int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE job_id = $1`, job).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func checkpointsOf(ctx context.Context, tb testing.TB, b *bundle, job string) int {
	return rowsOf(ctx, tb, b, "step_checkpoints", job)
}

func yieldsOf(ctx context.Context, tb testing.TB, b *bundle, job string) int {
	return rowsOf(ctx, tb, b, "job_yields", job)
}

// Prune deletes a job's checkpoints only once its newest is past the
// retention: a job whose first steps are old but that finished a step
// lately, or that is parked until later, keeps them all. It works in
// statements of batch rows until one deletes fewer.
func TestPruneDeletesOnlyExpiredJobs(t *testing.T) {
	ctx := context.Background()
	b := setup(t, worker.Config{})
	const retention = 90 * 24 * time.Hour
	day := 24 * time.Hour
	dead, live, parked, recent := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	for k := range 5 {
		checkpointAt(ctx, t, b, dead, k, 100*day+time.Duration(k)*time.Minute)
	}
	checkpointAt(ctx, t, b, live, 0, 200*day)
	checkpointAt(ctx, t, b, live, 1, 89*day)
	checkpointAt(ctx, t, b, parked, 0, 100*day)
	checkpointAt(ctx, t, b, parked, 1, -3*day) // wakes in 3 days
	checkpointAt(ctx, t, b, recent, 0, time.Hour)
	oldYield, newYield := uuid.NewString(), uuid.NewString()
	yieldAt(ctx, t, b, oldYield, 91*day)
	yieldAt(ctx, t, b, newYield, 89*day)

	res, err := b.svc.Prune(ctx, retention, 2)
	if err != nil {
		t.Fatal(err)
	}
	if res != (worker.PruneResult{Checkpoints: 5, Yields: 1}) {
		t.Errorf("Prune = %+v; want 5 checkpoints, 1 yield", res)
	}
	for job, want := range map[string]int{dead: 0, live: 2, parked: 2, recent: 1} {
		if n := checkpointsOf(ctx, t, b, job); n != want {
			t.Errorf("job %s keeps %d checkpoints; want %d", job, n, want)
		}
	}
	if yieldsOf(ctx, t, b, oldYield) != 0 || yieldsOf(ctx, t, b, newYield) != 1 {
		t.Errorf("job_yields: old %d, new %d; want 0, 1", yieldsOf(ctx, t, b, oldYield), yieldsOf(ctx, t, b, newYield))
	}
	// Nothing left to prune.
	if res, err := b.svc.Prune(ctx, retention, 2); err != nil || res != (worker.PruneResult{}) {
		t.Errorf("second Prune = %+v, %v; want nothing", res, err)
	}
}

// The run-job invocations prune: past the retention, a job's checkpoints
// and its yields row are gone after the next batch; the next batch within
// the interval does not prune again. A yield refreshes yielded_at.
func TestInvocationsPrune(t *testing.T) {
	ctx := context.Background()
	b := setup(t, worker.Config{CheckpointRetention: time.Hour})
	old := uuid.NewString()
	checkpointAt(ctx, t, b, old, 0, 2*time.Hour)
	yieldAt(ctx, t, b, old, 2*time.Hour)
	if err := b.svc.HandleKafka(ctx, batch(runJob(t, 1, `{"action":"LOG","message":"a"}`))); err != nil {
		t.Fatal(err)
	}
	if n, y := checkpointsOf(ctx, t, b, old), yieldsOf(ctx, t, b, old); n != 0 || y != 0 {
		t.Fatalf("after a batch: %d checkpoints, %d yields of the expired job; want none", n, y)
	}
	again := uuid.NewString()
	checkpointAt(ctx, t, b, again, 0, 2*time.Hour)
	if err := b.svc.HandleKafka(ctx, batch(runJob(t, 1, `{"action":"LOG","message":"b"}`))); err != nil {
		t.Fatal(err)
	}
	if n := checkpointsOf(ctx, t, b, again); n != 1 {
		t.Fatalf("a second batch within the interval pruned (%d checkpoints left); want it to wait", n)
	}
}

// A yield stamps yielded_at, so a job that keeps yielding keeps its row.
func TestYieldStampsItsTime(t *testing.T) {
	ctx := context.Background()
	b := setup(t, worker.Config{DeadlineMargin: 2 * time.Second})
	job := uuid.NewString()
	yieldAt(ctx, t, b, job, 48*time.Hour)
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	// A step cut by the deadline: the attempt yields.
	if err := b.svc.HandleKafka(dctx, batch(runJobFor(t, job, 1, `{"action":"HTTP_CALL","latencyMs":5000}`))); err != nil {
		t.Fatal(err)
	}
	envs, _ := read(t, b.brokers, envelope.TopicJobFailed, 1)
	if r := attemptResult(t, envs[0]); r.ErrorCode != worker.CodeYielded {
		t.Fatalf("attempt = %+v; want it yielded", r)
	}
	var age time.Duration
	if err := b.pool.QueryRow(ctx, `SELECT (extract(epoch FROM now() - yielded_at) * 1e6)::bigint * 1000 FROM job_yields WHERE job_id = $1`, job).Scan(&age); err != nil {
		t.Fatal(err)
	}
	if age > time.Hour {
		t.Fatalf("yielded_at is %s old after a yield; want it refreshed", age)
	}
	if res, err := b.svc.Prune(ctx, 24*time.Hour, 10); err != nil || res.Yields != 0 {
		t.Fatalf("Prune = %+v, %v; want the refreshed row kept", res, err)
	}
}

func TestCheckpointRetentionFromEnv(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		v    string
		want time.Duration // 0: an error naming the variable
	}{
		{"", 90 * day}, {"30", 30 * day}, {"30d", 30 * day}, {"720h", 30 * day}, {"1h", time.Hour}, {"3650d", 3650 * day},
		{"0", 0}, {"59m", 0}, {"3651d", 0}, {"-1d", 0}, {"ninety", 0},
	} {
		env := config.FromMap(map[string]string{"WORKER_CHECKPOINT_RETENTION": c.v})
		got := worker.ConfigFromEnv(env).CheckpointRetention
		switch {
		case c.want == 0 && (env.Err() == nil || !strings.Contains(env.Err().Error(), "WORKER_CHECKPOINT_RETENTION")):
			t.Errorf("%q: err = %v; want one naming WORKER_CHECKPOINT_RETENTION", c.v, env.Err())
		case c.want != 0 && (env.Err() != nil || got != c.want):
			t.Errorf("%q = %s, %v; want %s", c.v, got, env.Err(), c.want)
		}
	}
	deps := &wiring.Deps{Pool: setup(t, worker.Config{}).pool, Relay: &outbox.Relay{}}
	if _, err := worker.New(worker.Config{CheckpointRetention: time.Minute}, deps); err == nil || !strings.Contains(err.Error(), "WORKER_CHECKPOINT_RETENTION") {
		t.Fatalf("New with a 1 min retention: %v", err)
	}
}

// The worker's timeout need only hold the longest step and its margins;
// a park threshold over that step lets longer SLEEPs run inline, and then
// it must hold those.
func TestCheckTimeout(t *testing.T) {
	for _, c := range []struct {
		margin, park, want time.Duration
	}{
		{time.Second, 0, 91 * time.Second},                   // the defaults: 60 s HTTP_CALL + 1 s + 30 s
		{2 * time.Second, 2 * time.Second, 92 * time.Second}, // a longer margin
		{time.Second, 100 * time.Second, 131 * time.Second},  // SLEEPs up to 100 s inline
		{time.Second, -time.Second, 331 * time.Second},       // negative: only sleeps over 300 s park
	} {
		if got := worker.MinTimeout(c.margin, c.park); got != c.want {
			t.Errorf("MinTimeout(%s, %s) = %s; want %s", c.margin, c.park, got, c.want)
		}
		cfg := worker.Config{DeadlineMargin: c.margin, Durable: worker.DurableConfig{ParkThreshold: c.park}}
		if err := worker.CheckTimeout("WORKER_TIMEOUT", c.want, cfg); err != nil {
			t.Errorf("CheckTimeout(%s) at the minimum: %v", c.want, err)
		}
		if err := worker.CheckTimeout("WORKER_TIMEOUT", c.want-time.Second, cfg); err == nil || !strings.Contains(err.Error(), "WORKER_TIMEOUT") {
			t.Errorf("CheckTimeout(%s) under the minimum: %v", c.want-time.Second, err)
		}
	}
}

// A BATCH_PROCESS job's item results go with the same rule as the
// checkpoints: all of a job's once its newest is past the retention.
func TestPruneBatchItems(t *testing.T) {
	ctx := context.Background()
	b := setup(t, worker.Config{})
	day := 24 * time.Hour
	dead, live := uuid.NewString(), uuid.NewString()
	itemAt := func(job string, i int, ago time.Duration) {
		t.Helper()
		if _, err := b.pool.Exec(ctx, `INSERT INTO batch_items (job_id, item_index, pass, attempt, status, finished_at)
			VALUES ($1, $2, 1, 1, 'SUCCEEDED', now() - $3::float8 * interval '1 microsecond')`, job, i, float64(ago.Microseconds())); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		itemAt(dead, i, 100*day)
	}
	itemAt(live, 0, 200*day)
	itemAt(live, 1, time.Hour)
	res, err := b.svc.Prune(ctx, 90*day, 2)
	if err != nil {
		t.Fatal(err)
	}
	if res != (worker.PruneResult{Items: 3}) {
		t.Errorf("Prune = %+v; want 3 items", res)
	}
	if d, l := rowsOf(ctx, t, b, "batch_items", dead), rowsOf(ctx, t, b, "batch_items", live); d != 0 || l != 2 {
		t.Errorf("batch_items left: expired job %d, live job %d; want 0, 2", d, l)
	}
}
