package scheduler

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/poison"
)

func TestIngestPublishesOneRunJob(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{MaxRetries: 2})
	b.consume(t, b.svc, created)

	runs := b.read(t, envelope.TopicRunJob, 1)
	run := decodePayload[envelope.RunJob](t, runs[0])
	if runs[0].JobID != created.JobID || runs[0].TraceID != created.TraceID {
		t.Fatalf("run-job envelope = %+v", runs[0])
	}
	if run.Attempt != 1 || run.JobType != "SIMULATION" || run.MaxRetryCount != 2 ||
		string(run.Payload) != `{"steps":[{"action":"LOG","message":"hi"}]}` {
		t.Fatalf("run-job = %+v (payload %s)", run, run.Payload)
	}
	// No lease at dispatch: it starts when a worker starts the attempt.
	if run.DispatchedAt.IsZero() || !run.LeaseUntil.IsZero() {
		t.Fatalf("dispatched %s with lease %s; want a dispatch time and no lease", run.DispatchedAt, run.LeaseUntil)
	}
	j := b.job(t, created.JobID)
	if j.Status != internalapi.StatusRunning || j.Attempts != 1 || j.Version != 1 || j.StartedAt != nil || j.LeaseUntil != nil || j.TraceID != created.TraceID {
		t.Fatalf("job = %+v", j)
	}
	if n := b.count(t, `SELECT count(*) FROM job_attempts WHERE job_id = $1 AND attempt = 1 AND outcome IS NULL`, created.JobID); n != 1 {
		t.Fatalf("attempt rows = %d", n)
	}
	if n := b.count(t, `SELECT count(*) FROM outbox`); n != 0 {
		t.Fatalf("outbox rows left = %d", n)
	}
}

func TestIngestTwiceMakesOneJobAndOneRunJob(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{})
	b.consume(t, b.svc, created, created) // twice in one batch
	b.consume(t, b.svc, created)          // and redelivered
	if n := b.count(t, `SELECT count(*) FROM jobs`); n != 1 {
		t.Fatalf("jobs = %d", n)
	}
	b.read(t, envelope.TopicRunJob, 1)
	if j := b.job(t, created.JobID); j.Attempts != 1 || j.Status != internalapi.StatusRunning {
		t.Fatalf("job = %+v", j)
	}
}

func TestIngestWithoutCreatedAtUsesNow(t *testing.T) {
	b := setup(t, nil)
	e := envWithPayload(t, envelope.TypeJobCreated, `{"jobType":"SIMULATION","payload":{"steps":[]},"maxRetryCount":1}`)
	b.consume(t, b.svc, e)
	if j := b.job(t, e.JobID); j.CreatedAt.IsZero() || time.Since(j.CreatedAt) > time.Hour || j.MaxRetryCount != 1 {
		t.Fatalf("job = %+v", j)
	}
}

func TestIngestManyInOneBatch(t *testing.T) {
	b := setup(t, nil)
	var envs []envelope.Envelope
	for range 250 {
		envs = append(envs, newJobCreated(t, jobOpts{}))
	}
	b.consume(t, b.svc, envs...)
	// One dispatch pass per batch: the first BatchSize go out at once, a
	// pass dispatches the rest.
	for b.count(t, `SELECT count(*) FROM jobs WHERE status = 'PENDING'`) > 0 {
		b.runOnce(t, b.svc)
	}
	if n := b.count(t, `SELECT count(*) FROM jobs WHERE status = 'RUNNING' AND attempts = 1`); n != 250 {
		t.Fatalf("running = %d", n)
	}
	b.read(t, envelope.TopicRunJob, 250)
}

// paused returns a service that never dispatches, so that a test sees the
// state its results leave before a pass picks the job up again.
func paused(c *Config) { c.MaxInFlight = 0 }

func noJitter(c *Config) { c.Jitter = 0 }

func TestFailuresRetryWithGrowingBackoffThenDeadLetter(t *testing.T) {
	b := setup(t, noJitter)
	results := b.service(t, func(c *Config) { paused(c); noJitter(c) })
	created := newJobCreated(t, jobOpts{MaxRetries: 2})
	id := created.JobID
	b.consume(t, b.svc, created)

	var prevDelay time.Duration
	for attempt := 1; attempt <= 2; attempt++ {
		b.consume(t, results, newResult(t, id, attempt, "boom", false))
		j := b.job(t, id)
		if j.Status != internalapi.StatusPending || j.Attempts != attempt || j.LastError != "boom" ||
			j.LastErrorCode != "WORKER.STEP_FAILED" || j.NextRunAt == nil || j.LeaseUntil != nil {
			t.Fatalf("after failed attempt %d: job = %+v", attempt, j)
		}
		// next_run_at and updated_at come from the same now().
		delay := j.NextRunAt.Sub(j.UpdatedAt)
		if want := time.Millisecond << (attempt - 1); delay != want {
			t.Fatalf("retry %d delay = %s, want %s", attempt, delay, want)
		}
		if delay <= prevDelay {
			t.Fatalf("delay %s did not grow from %s", delay, prevDelay)
		}
		prevDelay = delay
		// Wait out the backoff, then a pass dispatches the retry.
		for b.job(t, id).Status == internalapi.StatusPending {
			if r := b.runOnce(t, b.svc); r.Dispatched == 1 && r.Retry != 1 {
				t.Fatalf("a retry counted as fresh: %+v", r)
			}
		}
		if j := b.job(t, id); j.Status != internalapi.StatusRunning || j.Attempts != attempt+1 {
			t.Fatalf("after retry dispatch: %+v", j)
		}
	}
	b.consume(t, results, newResult(t, id, 3, "boom 3", false))

	j := b.job(t, id)
	if j.Status != internalapi.StatusFailed || j.Attempts != 3 || j.FinishedAt == nil || j.LastError != "boom 3" {
		t.Fatalf("final job = %+v", j)
	}
	runs := b.read(t, envelope.TopicRunJob, 3)
	seen := map[int]bool{}
	for _, r := range runs {
		seen[decodePayload[envelope.RunJob](t, r).Attempt] = true
	}
	if !seen[1] || !seen[2] || !seen[3] {
		t.Fatalf("run-job attempts = %v", seen)
	}
	dls := b.read(t, envelope.TopicJobDeadLetter, 1)
	dl := decodePayload[envelope.JobDeadLetter](t, dls[0])
	if dls[0].JobID != id || dls[0].TraceID != created.TraceID || dl.Reason != ReasonRetriesExhausted ||
		dl.LastError != "boom 3" || dl.ErrorCode != "WORKER.STEP_FAILED" || dl.MaxRetryCount != 2 ||
		dl.JobType != "SIMULATION" || len(dl.Payload) == 0 || dl.FailedAt.IsZero() {
		t.Fatalf("dead letter = %+v", dl)
	}
	if len(dl.Attempts) != 3 {
		t.Fatalf("dead letter lists %d attempts, want 3: %+v", len(dl.Attempts), dl.Attempts)
	}
	for i, a := range dl.Attempts {
		if a.Attempt != i+1 || a.Outcome != OutcomeFailed || a.Error == "" || a.ErrorCode != "WORKER.STEP_FAILED" ||
			a.DurationMs != 7 || a.FinishedAt == nil || a.DispatchedAt.IsZero() || a.FinishedAt.Before(a.DispatchedAt) {
			t.Fatalf("attempt %d = %+v", i+1, a)
		}
	}
}

func TestNoRetriesFailsStraightToDeadLetter(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{MaxRetries: 0})
	b.consume(t, b.svc, created)
	b.consume(t, b.svc, newResult(t, created.JobID, 1, "immediate failure", false))
	if j := b.job(t, created.JobID); j.Status != internalapi.StatusFailed || j.Attempts != 1 {
		t.Fatalf("job = %+v", j)
	}
	dl := decodePayload[envelope.JobDeadLetter](t, b.read(t, envelope.TopicJobDeadLetter, 1)[0])
	if dl.Reason != ReasonRetriesExhausted || len(dl.Attempts) != 1 || dl.Attempts[0].Error != "immediate failure" {
		t.Fatalf("dead letter = %+v", dl)
	}
	b.read(t, envelope.TopicRunJob, 1)
}

func TestPermanentFailureSkipsRetries(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{MaxRetries: 5})
	b.consume(t, b.svc, created)
	b.consume(t, b.svc, newResult(t, created.JobID, 1, "cannot decode job", true))
	if j := b.job(t, created.JobID); j.Status != internalapi.StatusFailed {
		t.Fatalf("job = %+v", j)
	}
	dl := decodePayload[envelope.JobDeadLetter](t, b.read(t, envelope.TopicJobDeadLetter, 1)[0])
	if dl.Reason != ReasonPermanentFailure {
		t.Fatalf("reason = %s", dl.Reason)
	}
}

func TestCompletion(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{MaxRetries: 1})
	b.consume(t, b.svc, created)
	b.consume(t, b.svc, newResult(t, created.JobID, 1, "", false))
	j := b.job(t, created.JobID)
	if j.Status != internalapi.StatusCompleted || j.Attempts != 1 || j.FinishedAt == nil || j.LeaseUntil != nil || j.Version != 2 {
		t.Fatalf("job = %+v", j)
	}
	if n := b.count(t, `SELECT count(*) FROM job_attempts WHERE job_id = $1 AND outcome = 'COMPLETED' AND duration_ms = 7`, created.JobID); n != 1 {
		t.Fatalf("completed attempt rows = %d", n)
	}
	b.read(t, envelope.TopicJobDeadLetter, 0)
}

func TestDuplicateResultsChangeNothing(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{MaxRetries: 0})
	b.consume(t, b.svc, created)
	failed := newResult(t, created.JobID, 1, "boom", false)
	b.consume(t, b.svc, failed, failed) // twice in a batch
	before := b.job(t, created.JobID)
	b.consume(t, b.svc, failed) // redelivered
	after := b.job(t, created.JobID)
	if before.Status != internalapi.StatusFailed || after.Status != internalapi.StatusFailed || after.Attempts != 1 || after.Version != before.Version {
		t.Fatalf("before %+v, after %+v", before, after)
	}
	b.read(t, envelope.TopicJobDeadLetter, 1)
	if n := b.count(t, `SELECT count(*) FROM processed_events`); n != 1 {
		t.Fatalf("processed events = %d", n)
	}

	// A retried job: the same failure twice does not use two retries.
	retried := newJobCreated(t, jobOpts{MaxRetries: 3})
	b.consume(t, b.svc, retried)
	f1 := newResult(t, retried.JobID, 1, "boom", false)
	paused := b.service(t, paused)
	b.consume(t, paused, f1)
	v := b.job(t, retried.JobID).Version
	b.consume(t, paused, f1)
	if j := b.job(t, retried.JobID); j.Status != internalapi.StatusPending || j.Attempts != 1 || j.Version != v {
		t.Fatalf("job after duplicate failure = %+v", j)
	}
}

func TestStaleAndUnknownResultsAreIgnored(t *testing.T) {
	b := setup(t, func(c *Config) { c.BackoffBase, c.BackoffCap = time.Hour, time.Hour })
	created := newJobCreated(t, jobOpts{MaxRetries: 3})
	b.consume(t, b.svc, created)
	b.consume(t, b.svc, newResult(t, created.JobID, 1, "boom", false))
	b.exec(t, `UPDATE jobs SET next_run_at = now() WHERE id = $1`, created.JobID)
	b.runOnce(t, b.svc) // attempt 2 running
	v := b.job(t, created.JobID).Version
	b.consume(t, b.svc,
		newResult(t, created.JobID, 1, "", false),        // superseded attempt
		newResult(t, created.JobID, 7, "", false),        // attempt never dispatched
		newResult(t, uuid.NewString(), 1, "boom", false), // unknown job
	)
	if j := b.job(t, created.JobID); j.Status != internalapi.StatusRunning || j.Attempts != 2 || j.Version != v {
		t.Fatalf("job = %+v", j)
	}
}

func TestPoisonRecordsAreDeadLetteredAndTheBatchSucceeds(t *testing.T) {
	b := setup(t, nil)
	good := newJobCreated(t, jobOpts{})
	ev := kafkaEvent(good)
	poisonKey := uuid.NewString()
	ev.Records["job-created-3"] = []events.KafkaRecord{
		{Topic: envelope.TopicJobCreated, Partition: 3, Offset: 41, Value: base64.StdEncoding.EncodeToString([]byte("{not json")),
			Key: base64.StdEncoding.EncodeToString([]byte(poisonKey))},
		{Topic: envelope.TopicJobCreated, Partition: 3, Offset: 42, Value: "%%% not base64"},
	}
	if err := b.svc.HandleKafka(b.ctx, ev); err != nil {
		t.Fatalf("HandleKafka failed the batch: %v", err)
	}
	if j := b.job(t, good.JobID); j.Status != internalapi.StatusRunning {
		t.Fatalf("good job = %+v", j)
	}
	dls := b.read(t, envelope.TopicJobDeadLetter, 2)
	offsets := map[int64]envelope.JobDeadLetter{}
	for _, e := range dls {
		dl := decodePayload[envelope.JobDeadLetter](t, e)
		if dl.Reason != ReasonPoisonRecord || dl.Source == nil || dl.Source.Topic != envelope.TopicJobCreated || dl.Source.Partition != 3 {
			t.Fatalf("dead letter = %+v", dl)
		}
		if dl.Source.Offset == 41 && e.JobID != poisonKey {
			t.Fatalf("poison dead letter job ID = %q, want the record key %q", e.JobID, poisonKey)
		}
		offsets[dl.Source.Offset] = dl
	}
	if offsets[41].Source == nil || offsets[42].Source == nil || offsets[42].Source.Value != "%%% not base64" {
		t.Fatalf("dead letters = %+v", offsets)
	}
}

// A redelivered poison record makes the same dead letter (the ID derives
// from the record's topic, partition and offset), which the dlq stores
// once: no second dlq entry.
func TestRedeliveredPoisonRecordMakesTheSameDeadLetter(t *testing.T) {
	b := setup(t, nil)
	ev := events.KafkaEvent{Records: map[string][]events.KafkaRecord{"job-completed-1": {
		{Topic: envelope.TopicJobCompleted, Partition: 1, Offset: 7, Value: base64.StdEncoding.EncodeToString([]byte(`{"eventId":`))},
	}}}
	for i := 0; i < 2; i++ {
		if err := b.svc.HandleKafka(b.ctx, ev); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	dls := b.read(t, envelope.TopicJobDeadLetter, 2)
	if len(dls) != 2 {
		t.Fatalf("%d dead-letter records; want 2 (one per delivery)", len(dls))
	}
	want := poison.EventID(envelope.TopicJobCompleted, 1, 7)
	for _, e := range dls {
		if e.EventID != want || e.TraceID != want {
			t.Errorf("dead letter %s (trace %s); want event and trace ID %s", e.EventID, e.TraceID, want)
		}
	}
}
