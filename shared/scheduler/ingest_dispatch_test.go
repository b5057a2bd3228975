package scheduler

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/kafka"
)

// dispatchedAtIngest reports whether job id was dispatched by the
// transaction that ingested it: a dispatch pass's claim is a later
// transaction, with a later now().
func (b *testBundle) dispatchedAtIngest(t *testing.T, id string) bool {
	t.Helper()
	return b.count(t, `SELECT count(*) FROM jobs WHERE id = $1 AND status = 'RUNNING'
		AND dispatched_at = ingested_at AND updated_at = ingested_at`, id) == 1
}

// equalJSON reports whether a and b encode alike.
func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}

// inbounds parses envelopes as HandleKafka does, into job-created and
// result records.
func inbounds(t *testing.T, envs ...envelope.Envelope) (created, results []inbound) {
	t.Helper()
	for _, r := range kafka.Flatten(kafkaEvent(envs...)) {
		in, err := parseRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		if in.Created != nil {
			created = append(created, in)
		} else {
			results = append(results, in)
		}
	}
	return created, results
}

// A fresh job with a slot free and nothing due is RUNNING after one
// HandleKafka, dispatched by the ingesting transaction itself: one
// attempt row, one run-job, no claim by a later transaction.
func TestIngestDispatchesAFreshJobAtOnce(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{MaxRetries: 2})
	b.consume(t, b.svc, created)

	if !b.dispatchedAtIngest(t, created.JobID) {
		t.Fatal("job not dispatched by the transaction that ingested it")
	}
	var dispatchID string
	if err := b.pool.QueryRow(b.ctx, `SELECT dispatch_id::text FROM jobs WHERE id = $1`, created.JobID).Scan(&dispatchID); err != nil {
		t.Fatal(err)
	}
	if n := b.count(t, `SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id
		WHERE a.job_id = $1 AND a.attempt = 1 AND a.dispatch_id = j.dispatch_id AND a.dispatched_at = j.dispatched_at
		  AND a.outcome IS NULL AND a.started_at IS NULL AND a.lease_until IS NULL`, created.JobID); n != 1 {
		t.Fatalf("attempt rows like the claim's = %d, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM job_attempts`); n != 1 {
		t.Fatalf("attempt rows = %d, want 1", n)
	}
	runs := b.runJobsOf(t, created.JobID)
	if len(runs) != 1 || runs[0].EventID != dispatchID {
		t.Fatalf("run-jobs = %+v, want one with event ID %s", runs, dispatchID)
	}
	// The worker can start it: it is the job's current dispatch.
	if started := b.start(t, internalapi.AttemptRef{JobID: created.JobID, Attempt: 1, DispatchID: dispatchID}); len(started) != 1 {
		t.Fatalf("started = %v", started)
	}
}

// A job dispatched at ingest is indistinguishable downstream from one a
// dispatch pass claimed: its run-job, its attempt row and its API view.
func TestIngestDispatchLooksLikeAClaim(t *testing.T) {
	b := setup(t, nil)
	claimed := newJobCreated(t, jobOpts{MaxRetries: 3, CreatedBy: "alice"})
	b.consume(t, b.service(t, paused), claimed) // PENDING
	b.runOnce(t, b.svc)                         // claimed by a pass
	direct := newJobCreated(t, jobOpts{MaxRetries: 3, CreatedBy: "alice"})
	b.consume(t, b.svc, direct)
	if b.dispatchedAtIngest(t, claimed.JobID) || !b.dispatchedAtIngest(t, direct.JobID) {
		t.Fatal("want the first job claimed by a pass and the second dispatched at ingest")
	}

	// The API's view, but for the IDs and times.
	view := func(id string) internalapi.JobStatus {
		j := b.job(t, id)
		if j.CreatedAt.IsZero() || j.UpdatedAt.Before(j.CreatedAt) {
			t.Fatalf("job %s times: %+v", id, j)
		}
		j.JobID, j.TraceID, j.CreatedAt, j.UpdatedAt = "", "", time.Time{}, time.Time{}
		return j
	}
	if c, d := view(claimed.JobID), view(direct.JobID); !equalJSON(t, c, d) {
		t.Fatalf("job views differ:\nclaimed %+v\ndirect  %+v", c, d)
	}
	// The run-jobs, but for the IDs, the dispatch time and the traceparent.
	run := func(id string) (envelope.Envelope, envelope.RunJob) {
		runs := b.runJobsOf(t, id)
		if len(runs) != 1 {
			t.Fatalf("run-jobs of %s = %d", id, len(runs))
		}
		e, r := runs[0], decodePayload[envelope.RunJob](t, runs[0])
		var at time.Time
		if err := b.pool.QueryRow(b.ctx, `SELECT dispatched_at FROM jobs WHERE id = $1 AND dispatch_id = $2`, id, e.EventID).Scan(&at); err != nil {
			t.Fatalf("job %s with dispatch %s: %v", id, e.EventID, err)
		}
		if !r.DispatchedAt.Equal(at) {
			t.Fatalf("run-job dispatched at %s, job at %s", r.DispatchedAt, at)
		}
		e.EventID, e.JobID, e.TraceID, e.TraceParent, e.Time, e.Payload = "", "", "", "", time.Time{}, nil
		r.DispatchedAt = time.Time{}
		return e, r
	}
	ce, cr := run(claimed.JobID)
	de, dr := run(direct.JobID)
	if !equalJSON(t, ce, de) || !equalJSON(t, cr, dr) {
		t.Fatalf("run-jobs differ:\nclaimed %+v %+v\ndirect  %+v %+v", ce, cr, de, dr)
	}
	// The attempt rows and the job rows' dispatch state.
	const row = `SELECT count(*) FROM jobs j JOIN job_attempts a ON a.job_id = j.id
		WHERE j.id = $1 AND j.version = 1 AND j.attempts = 1 AND j.lease_until IS NULL AND j.started_at IS NULL
		  AND j.budget_base = 0 AND j.created_by = 'alice' AND a.attempt = 1 AND a.dispatch_id = j.dispatch_id
		  AND a.dispatched_at = j.dispatched_at AND a.outcome IS NULL AND a.retry_at IS NULL`
	for _, id := range []string{claimed.JobID, direct.JobID} {
		if n := b.count(t, row, id); n != 1 {
			t.Fatalf("job %s: rows as the claim leaves them = %d", id, n)
		}
	}
}

// Fresh jobs never jump the queue: with an older job due in either
// queue, a batch's new jobs are ingested PENDING and the pass dispatches
// by age and the fair split, as without dispatch at ingest; with none
// due (only later ones), they go out at ingest.
func TestIngestDispatchesOnlyWhenNothingIsDue(t *testing.T) {
	for _, tc := range []struct {
		name        string
		attempts    int  // the older jobs' queue: 0 fresh, 1 retry
		due         bool // the older jobs are due
		wantAtOnce  bool // the new job is dispatched at ingest
		wantRunning int  // older jobs RUNNING after HandleKafka
		wantNew     string
	}{
		// BatchSize 3: the pass takes the 3 older fresh jobs first.
		{name: "older fresh jobs due", attempts: 0, due: true, wantRunning: 3, wantNew: internalapi.StatusPending},
		// 2 slots reserved for fresh (FreshRatio 0.5): the new job and 2 retries.
		{name: "older retries due", attempts: 1, due: true, wantRunning: 2, wantNew: internalapi.StatusRunning},
		{name: "older fresh jobs not yet due", attempts: 0, wantAtOnce: true, wantNew: internalapi.StatusRunning},
		{name: "older retries not yet due", attempts: 1, wantAtOnce: true, wantNew: internalapi.StatusRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, func(c *Config) { c.BatchSize = 3 })
			b.insertDueJobs(t, 3, tc.attempts)
			if !tc.due {
				b.exec(t, `UPDATE jobs SET next_run_at = now() + interval '1 hour'`)
			}
			created := newJobCreated(t, jobOpts{})
			b.consume(t, b.svc, created)
			if got := b.dispatchedAtIngest(t, created.JobID); got != tc.wantAtOnce {
				t.Fatalf("dispatched at ingest = %v, want %v", got, tc.wantAtOnce)
			}
			if j := b.job(t, created.JobID); j.Status != tc.wantNew {
				t.Fatalf("new job = %s, want %s", j.Status, tc.wantNew)
			}
			if n := b.count(t, `SELECT count(*) FROM jobs WHERE status = 'RUNNING' AND id <> $1`, created.JobID); n != tc.wantRunning {
				t.Fatalf("older jobs running = %d, want %d", n, tc.wantRunning)
			}
		})
	}
}

// An ingest dispatches at most min(BatchSize, MaxInFlight - running)
// jobs; the rest are PENDING for the pass.
func TestIngestDispatchRespectsTheRoom(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		batch, maxInFlight     int
		running, jobs          int
		wantAtOnce, wantFinish int // dispatched at ingest; RUNNING after HandleKafka
	}{
		{name: "room for all", batch: 100, maxInFlight: 10, jobs: 5, wantAtOnce: 5, wantFinish: 5},
		{name: "MaxInFlight", batch: 100, maxInFlight: 5, jobs: 8, wantAtOnce: 5, wantFinish: 5},
		{name: "MaxInFlight with jobs running", batch: 100, maxInFlight: 5, running: 3, jobs: 4, wantAtOnce: 2, wantFinish: 5},
		{name: "full", batch: 100, maxInFlight: 3, running: 3, jobs: 2, wantAtOnce: 0, wantFinish: 3},
		// The pass dispatches the rest (a batch of 3 per pass).
		{name: "BatchSize", batch: 3, maxInFlight: 100, jobs: 5, wantAtOnce: 3, wantFinish: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, func(c *Config) { c.BatchSize, c.MaxInFlight = tc.batch, tc.maxInFlight })
			if tc.running > 0 {
				b.insertDueJobs(t, tc.running, 0)
				b.runOnce(t, b.svc)
			}
			envs := make([]envelope.Envelope, tc.jobs)
			for i := range envs {
				envs[i] = newJobCreated(t, jobOpts{})
			}
			b.consume(t, b.svc, envs...)
			atOnce := 0
			for _, e := range envs {
				if b.dispatchedAtIngest(t, e.JobID) {
					atOnce++
				}
			}
			if atOnce != tc.wantAtOnce {
				t.Fatalf("dispatched at ingest = %d, want %d", atOnce, tc.wantAtOnce)
			}
			if n := b.count(t, `SELECT count(*) FROM jobs WHERE status = 'RUNNING'`); n != tc.wantFinish {
				t.Fatalf("running = %d, want %d", n, tc.wantFinish)
			}
			if n := b.count(t, `SELECT count(*) FROM job_attempts`); n != tc.wantFinish {
				t.Fatalf("attempt rows = %d, want %d", n, tc.wantFinish)
			}
			b.read(t, envelope.TopicRunJob, tc.wantFinish)
		})
	}
}

// Concurrent Kafka invocations, of one process and of several, never
// have more jobs RUNNING than MaxInFlight, and dispatch each job once.
func TestConcurrentIngestsStayUnderMaxInFlight(t *testing.T) {
	const calls, per, maxInFlight = 16, 5, 30
	b := setup(t, func(c *Config) { c.MaxInFlight = maxInFlight })
	others := []*Service{b.svc, b.service(t, func(c *Config) { c.MaxInFlight = maxInFlight }),
		b.service(t, func(c *Config) { c.MaxInFlight = maxInFlight })}
	stop := make(chan struct{})
	peak := make(chan int)
	go func() { // watches the RUNNING count while the calls run
		most := 0
		for {
			select {
			case <-stop:
				peak <- most
				return
			default:
				var n int
				if err := b.pool.QueryRow(b.ctx, `SELECT count(*) FROM jobs WHERE status = 'RUNNING'`).Scan(&n); err == nil {
					most = max(most, n)
				}
			}
		}
	}()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i := range calls {
		envs := make([]envelope.Envelope, per)
		for k := range envs {
			envs[k] = newJobCreated(t, jobOpts{})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := others[i%len(others)].HandleKafka(b.ctx, kafkaEvent(envs...)); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	if most := <-peak; most > maxInFlight {
		t.Fatalf("%d jobs RUNNING at once, over MaxInFlight %d", most, maxInFlight)
	}
	if len(errs) > 0 {
		t.Fatalf("HandleKafka errors: %v", errs)
	}
	b.runOnce(t, b.svc) // the tick: a pass still asked for
	if n := b.count(t, `SELECT count(*) FROM jobs WHERE status = 'RUNNING' AND attempts = 1 AND version = 1`); n != maxInFlight {
		t.Fatalf("running = %d, want MaxInFlight %d", n, maxInFlight)
	}
	if n := b.count(t, `SELECT count(*) FROM job_attempts`); n != maxInFlight {
		t.Fatalf("attempt rows = %d, want %d", n, maxInFlight)
	}
	seen := map[string]bool{}
	for _, e := range b.read(t, envelope.TopicRunJob, maxInFlight) {
		if seen[e.JobID] {
			t.Fatalf("job %s dispatched twice", e.JobID)
		}
		seen[e.JobID] = true
	}
}

// A redelivered job-created dispatches nothing again, whatever became of
// the job; a new job in the same batch still goes out at ingest.
func TestRedeliveredJobCreatedIsNotDispatchedAgain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before func(t *testing.T, b *testBundle, e envelope.Envelope) // brings the job to its state
		want   string
		runs   int  // the job's run-jobs in all
		due    bool // the job is due, so the new one waits for the pass
	}{
		{name: "running", want: internalapi.StatusRunning, runs: 1,
			before: func(t *testing.T, b *testBundle, e envelope.Envelope) { b.consume(t, b.svc, e) }},
		{name: "completed", want: internalapi.StatusCompleted, runs: 1,
			before: func(t *testing.T, b *testBundle, e envelope.Envelope) {
				b.consume(t, b.svc, e)
				b.consume(t, b.svc, newResult(t, e.JobID, 1, "", false))
			}},
		{name: "cancelled while running", want: internalapi.StatusCancelled, runs: 1,
			before: func(t *testing.T, b *testBundle, e envelope.Envelope) {
				b.consume(t, b.svc, e)
				if _, err := b.svc.cancel(b.ctx, e.JobID, nil); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "cancelled before it arrived", want: internalapi.StatusCancelled, runs: 0,
			before: func(t *testing.T, b *testBundle, e envelope.Envelope) {
				c := decodePayload[envelope.JobCreated](t, e)
				if _, err := b.svc.cancel(b.ctx, e.JobID, &internalapi.CancelRequest{JobCreated: c, TraceID: e.TraceID}); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "pending (ingested while paused)", want: internalapi.StatusRunning, runs: 1, due: true,
			before: func(t *testing.T, b *testBundle, e envelope.Envelope) { b.consume(t, b.service(t, paused), e) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// MaxInFlight 2: room for one more beside the job; the old job's
			// ID sorts first, so it would take that room if it counted.
			b := setup(t, func(c *Config) { c.MaxInFlight = 2 })
			old := newJobCreated(t, jobOpts{ID: "00000000-0000-4000-8000-" + uuid.NewString()[24:]})
			tc.before(t, b, old)
			fresh := newJobCreated(t, jobOpts{ID: "ffffffff-0000-4000-8000-" + uuid.NewString()[24:]})
			b.consume(t, b.svc, old, fresh) // the redelivery, with a new job
			b.consume(t, b.svc, old)        // and again alone
			b.runOnce(t, b.svc)

			j := b.job(t, old.JobID)
			if j.Status != tc.want {
				t.Fatalf("redelivered job = %s, want %s", j.Status, tc.want)
			}
			if n := len(b.runJobsOf(t, old.JobID)); n != tc.runs {
				t.Fatalf("run-jobs of the redelivered job = %d, want %d", n, tc.runs)
			}
			if n := b.count(t, `SELECT count(*) FROM job_attempts WHERE job_id = $1`, old.JobID); n != tc.runs {
				t.Fatalf("attempt rows of the redelivered job = %d, want %d", n, tc.runs)
			}
			if got := b.dispatchedAtIngest(t, fresh.JobID); got == tc.due {
				t.Fatalf("the new job in the redelivered batch dispatched at ingest: %v, want %v", got, !tc.due)
			}
			if j := b.job(t, fresh.JobID); j.Status != internalapi.StatusRunning || j.Attempts != 1 {
				t.Fatalf("the new job = %+v", j)
			}
		})
	}
}

// An ingest waits for the dispatch lock, and counts the RUNNING jobs
// only once it holds it: what a pass (or another ingest) holding it
// dispatched counts against MaxInFlight.
func TestIngestCountsRunningJobsOnceItHoldsTheLock(t *testing.T) {
	for _, tc := range []struct {
		name        string
		maxInFlight int
		wantAtOnce  bool
	}{
		{name: "the pass took the last slots", maxInFlight: 2},
		{name: "a slot left", maxInFlight: 3, wantAtOnce: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, func(c *Config) { c.MaxInFlight = tc.maxInFlight })
			// A pass in progress: it holds the lock and dispatches two jobs.
			tx, err := b.pool.Begin(b.ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(b.ctx) }()
			if _, err := tx.Exec(b.ctx, `SELECT pg_advisory_xact_lock($1)`, dispatchLockKey); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(b.ctx, `
				INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts, next_run_at,
				                  created_at, dispatch_id, dispatched_at, version)
				SELECT gen_random_uuid(), 'SIMULATION', '{"steps":[]}', 5, 'trace-pass', 'RUNNING', 1, now(),
				       now(), gen_random_uuid(), now(), 1
				  FROM generate_series(1, 2)`); err != nil {
				t.Fatal(err)
			}
			e := newJobCreated(t, jobOpts{})
			created, _ := inbounds(t, e)
			done := make(chan error, 1)
			go func() { _, _, err := b.svc.consume(b.ctx, created, nil, nil); done <- err }()
			select {
			case err := <-done:
				t.Fatalf("the ingest did not wait for the lock (err %v)", err)
			case <-time.After(300 * time.Millisecond):
			}
			if err := tx.Commit(b.ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := b.dispatchedAtIngest(t, e.JobID); got != tc.wantAtOnce {
				t.Fatalf("dispatched at ingest = %v, want %v", got, tc.wantAtOnce)
			}
			if n := b.count(t, `SELECT count(*) FROM jobs WHERE status = 'RUNNING'`); n > tc.maxInFlight {
				t.Fatalf("running = %d, over MaxInFlight %d", n, tc.maxInFlight)
			}
		})
	}
}

// A batch owes no dispatch pass only if it applied no results, found
// nothing due and dispatched every job it inserted.
func TestConsumeSettlesOnlyWhenNoPassIsOwed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    func(*Config)
		before func(t *testing.T, b *testBundle)
		batch  func(t *testing.T, b *testBundle) []envelope.Envelope
		want   bool
	}{
		{name: "new jobs, room for all", want: true,
			batch: func(t *testing.T, b *testBundle) []envelope.Envelope {
				return []envelope.Envelope{newJobCreated(t, jobOpts{}), newJobCreated(t, jobOpts{})}
			}},
		{name: "a redelivery alone", want: true,
			batch: func(t *testing.T, b *testBundle) []envelope.Envelope {
				e := newJobCreated(t, jobOpts{})
				b.consume(t, b.svc, e)
				return []envelope.Envelope{e}
			}},
		{name: "more new jobs than room", cfg: func(c *Config) { c.MaxInFlight = 1 },
			batch: func(t *testing.T, b *testBundle) []envelope.Envelope {
				return []envelope.Envelope{newJobCreated(t, jobOpts{}), newJobCreated(t, jobOpts{})}
			}},
		{name: "an older job due",
			before: func(t *testing.T, b *testBundle) { b.insertDueJobs(t, 1, 1) },
			batch: func(t *testing.T, b *testBundle) []envelope.Envelope {
				return []envelope.Envelope{newJobCreated(t, jobOpts{})}
			}},
		{name: "new jobs and a result",
			batch: func(t *testing.T, b *testBundle) []envelope.Envelope {
				e := newJobCreated(t, jobOpts{})
				b.consume(t, b.svc, e)
				return []envelope.Envelope{newJobCreated(t, jobOpts{}), newResult(t, e.JobID, 1, "", false)}
			}},
		{name: "results only",
			batch: func(t *testing.T, b *testBundle) []envelope.Envelope {
				e := newJobCreated(t, jobOpts{})
				b.consume(t, b.svc, e)
				return []envelope.Envelope{newResult(t, e.JobID, 1, "", false)}
			}},
		{name: "paused", cfg: paused,
			batch: func(t *testing.T, b *testBundle) []envelope.Envelope {
				return []envelope.Envelope{newJobCreated(t, jobOpts{})}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, tc.cfg)
			if tc.before != nil {
				tc.before(t, b)
			}
			created, results := inbounds(t, tc.batch(t, b)...)
			settled, _, err := b.svc.consume(b.ctx, created, results, nil)
			if err != nil {
				t.Fatal(err)
			}
			if settled != tc.want {
				t.Fatalf("settled = %v, want %v", settled, tc.want)
			}
		})
	}
}
