package worker_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/scheduler"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
	"github.com/jobweaver/jobweaver/shared/worker"
)

func setupPair(tb testing.TB, cfg worker.Config) (*bundle, *scheduler.Service, func(sql string, args ...any) int) {
	tb.Helper()
	b := setup(tb, cfg)
	spool := pgtest.Pool(tb, scheduler.Migrations())
	prod := kafkatest.Producer(tb, b.brokers)
	scfg := scheduler.DefaultConfig()
	scfg.BackoffBase, scfg.BackoffCap = time.Millisecond, 10*time.Millisecond
	sched, err := scheduler.New(scfg, &wiring.Deps{Pool: spool, Producer: prod, Log: logging.Discard(),
		Relay: &outbox.Relay{Pool: spool, Producer: prod}})
	if err != nil {
		tb.Fatal(err)
	}
	inv := &invoke.Local{}
	inv.Register(invoke.Scheduler, trigger.HandleFunc(sched.Handle))
	cfg.Scheduler = inv
	if cfg.Steps == nil {
		cfg.Steps = b.probe.registry()
	}
	if b.svc, err = worker.New(cfg, b.deps); err != nil {
		tb.Fatal(err)
	}
	count := func(sql string, args ...any) int {
		tb.Helper()
		var n int
		if err := spool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
			tb.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	return b, sched, count
}

// dispatch ingests jobs with the given steps into the scheduler and
// returns their run-job records, as the worker's mapping would deliver
// them.
func dispatch(tb testing.TB, b *bundle, sched *scheduler.Service, n int, steps ...string) []envelope.Envelope {
	tb.Helper()
	before := kafkatest.Count(tb, b.brokers, envelope.TopicRunJob)
	created := make([]envelope.Envelope, n)
	for i := range created {
		e, err := envelope.New(envelope.TypeJobCreated, "trace-start", uuid.NewString(), envelope.JobCreated{
			JobSpec: envelope.JobSpec{JobType: "SIMULATION", MaxRetryCount: 0,
				Payload: json.RawMessage(`{"steps":[` + strings.Join(steps, ",") + `]}`)},
			CreatedAt: time.Now().UTC(),
		})
		if err != nil {
			tb.Fatal(err)
		}
		created[i] = e
	}
	if err := sched.HandleKafka(context.Background(), batch(created...)); err != nil {
		tb.Fatal(err)
	}
	envs, _ := read(tb, b.brokers, envelope.TopicRunJob, int(before)+n)
	// Records of several partitions come in no global order: pick ours.
	out := make([]envelope.Envelope, 0, n)
	for _, c := range created {
		for _, e := range envs {
			if e.JobID == c.JobID {
				out = append(out, e)
			}
		}
	}
	if len(out) != n {
		tb.Fatalf("found %d run-job records of %d jobs", len(out), n)
	}
	return out
}

// A stale run-job record (its dispatch superseded: released, redriven or
// taken back by the queue timeout) is not run.
func TestSupersededRunJobIsNotRun(t *testing.T) {
	b, sched, count := setupPair(t, worker.Config{})
	runs := dispatch(t, b, sched, 1, `{"action":"COUNT","key":"stale"}`)
	// The broker lost its log, say: every running job is dispatched again.
	if n, err := sched.Redrive(context.Background()); err != nil || n != 1 {
		t.Fatalf("Redrive = %d, %v", n, err)
	}
	if err := b.svc.HandleKafka(context.Background(), batch(runs[0])); err != nil {
		t.Fatal(err)
	}
	if n := b.probe.count("stale"); n != 0 {
		t.Fatalf("the superseded record ran %d times; want 0", n)
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobCompleted) + kafkatest.Count(t, b.brokers, envelope.TopicJobFailed); n != 0 {
		t.Fatalf("%d results for a record that must not run", n)
	}
	// The current record runs once.
	all, _ := read(t, b.brokers, envelope.TopicRunJob, 2)
	current := all[0]
	if current.EventID == runs[0].EventID {
		current = all[1]
	}
	if err := b.svc.HandleKafka(context.Background(), batch(current)); err != nil {
		t.Fatal(err)
	}
	if n := b.probe.count("stale"); n != 1 {
		t.Fatalf("the current record ran %d times; want 1", n)
	}
	if n := count(`SELECT count(*) FROM job_attempts WHERE started_at IS NOT NULL`); n != 1 {
		t.Fatalf("%d attempts started; want 1", n)
	}
}

// Records of a batch that get no slot before the deadline are not run,
// not reported as failures, and not charged: the scheduler has them
// PENDING again, as attempt 0, ready to be dispatched.
func TestBatchCutByTheDeadlineChargesNoUnstartedAttempt(t *testing.T) {
	b, sched, count := setupPair(t, worker.Config{Concurrency: 1, IOConcurrency: 1, DeadlineMargin: time.Second,
		Durable: worker.DurableConfig{ParkThreshold: -1}})
	// The first holds the only slot until the steps' deadline.
	runs := dispatch(t, b, sched, 4, `{"action":"SLEEP","durationMs":300000}`)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := b.svc.HandleKafka(ctx, batch(runs...)); err != nil {
		t.Fatal(err)
	}
	failed, _ := read(t, b.brokers, envelope.TopicJobFailed, 1)
	if failed[0].JobID != runs[0].JobID || attemptResult(t, failed[0]).ErrorCode != worker.CodeYielded {
		t.Fatalf("failed %s (%+v); want only the started job, cut off", failed[0].JobID, attemptResult(t, failed[0]))
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobFailed); n != 1 {
		t.Fatalf("%d job-failed records; want 1 (unstarted records are not failures)", n)
	}
	ids := make([]string, 0, 3)
	for _, r := range runs[1:] {
		ids = append(ids, r.JobID)
	}
	if n := count(`SELECT count(*) FROM jobs WHERE id = ANY($1::text[]::uuid[]) AND status = 'PENDING' AND attempts = 0`, ids); n != 3 {
		t.Fatalf("%d of the 3 unstarted jobs are PENDING with no attempt charged", n)
	}
	if n := count(`SELECT count(*) FROM job_attempts WHERE job_id = ANY($1::text[]::uuid[])`, ids); n != 0 {
		t.Fatalf("%d attempt rows for unstarted jobs; want 0", n)
	}
}

// An attempt's result leaves the worker when the attempt ends, while a
// slow neighbour of its batch still runs.
func TestResultLeavesBeforeTheBatchEnds(t *testing.T) {
	b, sched, _ := setupPair(t, worker.Config{Concurrency: 4})
	b.probe.parties = 2 // BARRIER waits for a second party that the test plays
	slow := dispatch(t, b, sched, 1, `{"action":"BARRIER"}`)
	quick := dispatch(t, b, sched, 3, `{"action":"LOG","message":"quick"}`)
	done := make(chan error, 1)
	go func() { done <- b.svc.HandleKafka(context.Background(), batch(append(slow, quick...)...)) }()

	// The quick results are published while the slow attempt waits.
	got, _ := read(t, b.brokers, envelope.TopicJobCompleted, 3)
	for _, e := range got {
		if e.JobID == slow[0].JobID {
			t.Fatal("the slow job completed before it was released")
		}
	}
	select {
	case err := <-done:
		t.Fatalf("the batch ended (%v) before its slow attempt", err)
	default:
	}
	if b.probe.arrived.Add(1) >= 2 { // the test's arrival releases the slow step
		b.probe.gOnce.Do(func() { close(b.probe.gate) })
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobCompleted); n != 4 {
		t.Fatalf("%d job-completed records; want 4", n)
	}
}
