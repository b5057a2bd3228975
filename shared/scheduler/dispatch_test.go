package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

func TestConcurrentPassesDispatchEachJobOnce(t *testing.T) {
	const n, passes = 500, 20
	b := setup(t, nil)
	b.insertDueJobs(t, n, 0)

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		errs  []error
	)
	for range passes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := b.svc.RunOnce(b.ctx)
			mu.Lock()
			defer mu.Unlock()
			total += r.Dispatched
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("RunOnce errors: %v", errs)
	}
	if total != n {
		t.Fatalf("dispatched %d, want %d", total, n)
	}
	if c := b.count(t, `SELECT count(*) FROM jobs WHERE status = 'RUNNING' AND attempts = 1 AND version = 1`); c != n {
		t.Fatalf("running once = %d, want %d", c, n)
	}
	if c := b.count(t, `SELECT count(*) FROM job_attempts`); c != n {
		t.Fatalf("attempt rows = %d, want %d", c, n)
	}
	runs := b.read(t, envelope.TopicRunJob, n)
	jobs := map[string]bool{}
	for _, e := range runs {
		if jobs[e.JobID] {
			t.Fatalf("job %s dispatched twice", e.JobID)
		}
		jobs[e.JobID] = true
		if a := decodePayload[envelope.RunJob](t, e).Attempt; a != 1 {
			t.Fatalf("attempt = %d", a)
		}
	}
}

func TestFreshJobGoesOutInFirstBatchDespiteRetryBacklog(t *testing.T) {
	b := setup(t, nil)
	b.insertDueJobs(t, 10_000, 1)
	fresh := newJobCreated(t, jobOpts{})
	// Ingest through a paused service, so that the pass under test is the
	// first to see the fresh job.
	b.consume(t, b.service(t, paused), fresh)

	r := b.runOnce(t, b.svc)
	if r.Dispatched != 100 || r.Fresh != 1 || r.Retry != 99 {
		t.Fatalf("first pass = %+v, want 1 fresh + 99 retries", r)
	}
	if j := b.job(t, fresh.JobID); j.Status != internalapi.StatusRunning {
		t.Fatalf("fresh job = %+v", j)
	}
	// With no fresh job due, the whole batch goes to retries.
	r = b.runOnce(t, b.svc)
	if r.Dispatched != 100 || r.Fresh != 0 || r.Retry != 100 {
		t.Fatalf("second pass = %+v, want 100 retries", r)
	}
	b.read(t, envelope.TopicRunJob, 200)
}

func TestRatioReservesShareForEachQueue(t *testing.T) {
	b := setup(t, func(c *Config) { c.BatchSize, c.FreshRatio = 10, 0.3 })
	b.insertDueJobs(t, 50, 0)
	b.insertDueJobs(t, 50, 2)
	r := b.runOnce(t, b.svc)
	if r.Fresh != 3 || r.Retry != 7 {
		t.Fatalf("pass = %+v, want 3 fresh + 7 retries", r)
	}
	if c := b.count(t, `SELECT count(*) FROM job_attempts WHERE attempt = 3`); c != 7 {
		t.Fatalf("retry attempt rows = %d", c)
	}
}

func TestOnlyDueJobsAreDispatched(t *testing.T) {
	b := setup(t, nil)
	b.insertDueJobs(t, 5, 1)
	b.exec(t, `UPDATE jobs SET next_run_at = now() + interval '1 hour'`)
	if r := b.runOnce(t, b.svc); r.Dispatched != 0 {
		t.Fatalf("dispatched jobs not yet due: %+v", r)
	}
}

func TestMaxInFlightCapsDispatch(t *testing.T) {
	b := setup(t, func(c *Config) { c.MaxInFlight = 30 })
	b.insertDueJobs(t, 100, 0)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = b.svc.RunOnce(b.ctx) }()
	}
	wg.Wait()
	if c := b.count(t, `SELECT count(*) FROM jobs WHERE status = 'RUNNING'`); c != 30 {
		t.Fatalf("running = %d, want the cap of 30", c)
	}
	// A finished job frees its slot.
	var id string
	if err := b.pool.QueryRow(b.ctx, `SELECT id::text FROM jobs WHERE status = 'RUNNING' LIMIT 1`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	b.consume(t, b.svc, newResult(t, id, 1, "", false))
	if c := b.count(t, `SELECT count(*) FROM jobs WHERE status = 'RUNNING'`); c != 30 {
		t.Fatalf("running after one completion = %d, want 30", c)
	}
	b.read(t, envelope.TopicRunJob, 31)
}

func TestDispatchCommittedButNotPublishedIsRelayedLater(t *testing.T) {
	b := setup(t, nil)
	b.insertDueJobs(t, 3, 0)
	// The dispatch commits, then the function dies before relaying.
	if f, r, _, err := b.svc.dispatch(b.ctx); err != nil || f != 3 || r != 0 {
		t.Fatalf("dispatch = %d, %d, %v", f, r, err)
	}
	if c := b.count(t, `SELECT count(*) FROM outbox`); c != 3 {
		t.Fatalf("outbox = %d", c)
	}
	b.read(t, envelope.TopicRunJob, 0)

	r := b.runOnce(t, b.svc)
	if r.Dispatched != 0 || r.Published != 3 {
		t.Fatalf("later pass = %+v", r)
	}
	b.read(t, envelope.TopicRunJob, 3)
}

func TestBrokerOutageFailsTheBatchAndALaterPassPublishes(t *testing.T) {
	b := setup(t, nil)
	// A service whose broker is gone: the state change commits, the relay
	// fails, and HandleKafka reports it so the batch is delivered again.
	dead, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, kafka.TopicNames()...))
	if err != nil {
		t.Fatal(err)
	}
	addrs := dead.ListenAddrs()
	dead.Close()
	prod, err := kafka.NewProducer(kafka.Config{Brokers: addrs}, kgo.RecordDeliveryTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	broken, err := New(testConfig(), &wiring.Deps{Pool: b.pool, Producer: prod, Log: logging.Discard(),
		Relay: &outbox.Relay{Pool: b.pool, Producer: prod}})
	if err != nil {
		t.Fatal(err)
	}
	created := newJobCreated(t, jobOpts{})
	ctx, cancel := context.WithTimeout(b.ctx, readTimeout)
	defer cancel()
	if err := broken.HandleKafka(ctx, kafkaEvent(created)); err == nil {
		t.Fatal("HandleKafka succeeded with no broker")
	}
	if j := b.job(t, created.JobID); j.Status != internalapi.StatusRunning {
		t.Fatalf("job = %+v", j)
	}
	if c := b.count(t, `SELECT count(*) FROM outbox`); c != 1 {
		t.Fatalf("outbox = %d", c)
	}

	// The redelivered batch changes nothing, and its relay publishes.
	b.consume(t, b.svc, created)
	runs := b.read(t, envelope.TopicRunJob, 1)
	if runs[0].JobID != created.JobID {
		t.Fatalf("run-job for %s", runs[0].JobID)
	}
	if j := b.job(t, created.JobID); j.Attempts != 1 {
		t.Fatalf("job = %+v", j)
	}
}

// Concurrent Kafka invocations of one process share dispatch passes
// (dispatchSoon): every job they ingest is dispatched exactly once, by the
// passes they ran, unless the last caller stopped at maxOwedPasses with a
// pass still asked for, which the next call or the tick runs.
func TestConcurrentKafkaCallsDispatchEveryJobOnce(t *testing.T) {
	const calls, per = 12, 5
	b := setup(t, nil)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range calls {
		envs := make([]envelope.Envelope, per)
		for i := range envs {
			envs[i] = newJobCreated(t, jobOpts{})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.svc.HandleKafka(b.ctx, kafkaEvent(envs...)); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("HandleKafka errors: %v", errs)
	}
	running := b.count(t, `SELECT count(*) FROM jobs WHERE status = 'RUNNING' AND attempts = 1`)
	if running < calls*per && !b.svc.dispatchWanted.Load() {
		t.Fatalf("%d of %d jobs dispatched and no pass asked for: an ask was lost", running, calls*per)
	}
	b.runOnce(t, b.svc) // the tick
	if c := b.count(t, `SELECT count(*) FROM jobs WHERE status = 'RUNNING' AND attempts = 1 AND version = 1`); c != calls*per {
		t.Fatalf("dispatched once = %d, want %d", c, calls*per)
	}
	runs := b.read(t, envelope.TopicRunJob, calls*per)
	seen := map[string]bool{}
	for _, e := range runs {
		if seen[e.JobID] {
			t.Fatalf("job %s dispatched twice", e.JobID)
		}
		seen[e.JobID] = true
	}
}
