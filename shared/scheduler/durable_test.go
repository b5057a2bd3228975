package scheduler

import (
	"net/http"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// durableResult builds the job-failed event of a yielded or parked attempt.
func durableResult(t testing.TB, jobID string, attempt int, parkUntil *time.Time) envelope.Envelope {
	t.Helper()
	r := envelope.AttemptResult{Attempt: attempt, StartedAt: time.Now().UTC(), FinishedAt: time.Now().UTC(), DurationMs: 7,
		ErrorCode: "WORKER.YIELDED", Error: "cut", Yielded: parkUntil == nil, ParkUntil: parkUntil}
	if parkUntil != nil {
		r.ErrorCode, r.Error = "WORKER.PARKED", "parked"
	}
	e, err := envelope.New(envelope.TypeJobFailed, "trace-result", jobID, r)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// A yield is not charged: a job with no retries yields twice and is
// dispatched again each time, at once, without a last error.
func TestYieldedAttemptIsDispatchedAgainUncharged(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{MaxRetries: 0})
	b.consume(t, b.svc, created)
	for attempt := 1; attempt <= 2; attempt++ {
		b.consume(t, b.svc, durableResult(t, created.JobID, attempt, nil))
		j := b.job(t, created.JobID)
		if j.Status != internalapi.StatusRunning || j.Attempts != attempt+1 || j.LastError != "" {
			t.Fatalf("after yield %d: %+v", attempt, j)
		}
	}
	b.consume(t, b.svc, newResult(t, created.JobID, 3, "", false))
	if j := b.job(t, created.JobID); j.Status != internalapi.StatusCompleted {
		t.Fatalf("job = %+v", j)
	}
	if n := b.count(t, `SELECT count(*) FROM job_attempts WHERE job_id = $1 AND outcome = 'YIELDED'`, created.JobID); n != 2 {
		t.Fatalf("%d YIELDED attempts; want 2", n)
	}
	b.read(t, envelope.TopicJobDeadLetter, 0)
}

// A park makes the job WAITING until its wake time, uncharged; the pass
// after the wake time dispatches it; a WAITING job can be cancelled.
func TestParkedJobWaitsWakesAndCancels(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{MaxRetries: 0})
	b.consume(t, b.svc, created)
	until := time.Now().Add(time.Second).UTC().Truncate(time.Microsecond)
	b.consume(t, b.svc, durableResult(t, created.JobID, 1, &until))
	j := b.job(t, created.JobID)
	if j.Status != internalapi.StatusWaiting || j.WaitingUntil == nil || !j.WaitingUntil.Equal(until) || j.NextRunAt != nil || j.LastError != "" {
		t.Fatalf("parked job = %+v", j)
	}
	if r := b.runOnce(t, b.svc); r.Dispatched != 0 || r.Woken != 0 {
		t.Fatalf("a WAITING job was woken early: %+v", r)
	}
	time.Sleep(time.Until(until) + 50*time.Millisecond)
	if r := b.runOnce(t, b.svc); r.Woken != 1 || r.Dispatched != 1 {
		t.Fatalf("pass after the wake time: %+v", r)
	}
	if j := b.job(t, created.JobID); j.Status != internalapi.StatusRunning || j.Attempts != 2 {
		t.Fatalf("woken job = %+v", j)
	}
	h := b.serve(t, http.MethodGet, internalapi.JobHistoryPath(created.JobID), "")
	hist := decodeJSON[internalapi.JobHistory](t, h)
	parked := false
	for _, e := range hist.Events {
		if e.Type == internalapi.EventParked && e.NextRunAt != nil {
			parked = true
		}
	}
	if !parked {
		t.Fatalf("no PARKED event with its wake time: %+v", hist.Events)
	}

	// Parked again, then cancelled while WAITING.
	later := time.Now().Add(time.Hour).UTC()
	b.consume(t, b.svc, durableResult(t, created.JobID, 2, &later))
	if j := b.job(t, created.JobID); j.Status != internalapi.StatusWaiting {
		t.Fatalf("job = %+v", j)
	}
	rec := b.serve(t, http.MethodPost, internalapi.JobCancelPath(created.JobID), "")
	if rec.Code != http.StatusOK {
		t.Fatalf("cancel = %d %s", rec.Code, rec.Body)
	}
	if st := decodeJSON[internalapi.JobStatus](t, rec); st.Status != internalapi.StatusCancelled || st.WaitingUntil != nil {
		t.Fatalf("cancelled = %+v", st)
	}
	b.read(t, envelope.TopicJobDeadLetter, 0)
}

// One pass wakes more parked jobs than it dispatches (wakeFactor ×
// BatchSize): jobs parked until the same moment do not wake one batch per
// tick. The woken ones wait their turn on the fair queues.
func TestOnePassWakesMoreThanABatch(t *testing.T) {
	b := setup(t, func(c *Config) { c.BatchSize = 2 })
	until := time.Now().Add(500 * time.Millisecond).UTC().Truncate(time.Microsecond)
	const n = 5
	for range n {
		created := newJobCreated(t, jobOpts{MaxRetries: 0})
		b.consume(t, b.svc, created)
		b.consume(t, b.svc, durableResult(t, created.JobID, 1, &until))
	}
	time.Sleep(time.Until(until) + 50*time.Millisecond)
	if r := b.runOnce(t, b.svc); r.Woken != n || r.Dispatched > 2*b.svc.cfg.BatchSize {
		t.Fatalf("pass after the wake time: %+v; want all %d woken, at most a dispatch pass's worth dispatched", r, n)
	}
	if left := b.count(t, `SELECT count(*) FROM jobs WHERE status = 'WAITING'`); left != 0 {
		t.Fatalf("%d jobs still WAITING after one pass", left)
	}
}
