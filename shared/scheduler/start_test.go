package scheduler

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// dispatchOne ingests a job (with maxRetries) and returns its run-job
// record's attempt reference.
func (b *testBundle) dispatchOne(t *testing.T, maxRetries int) (string, internalapi.AttemptRef) {
	t.Helper()
	created := newJobCreated(t, jobOpts{MaxRetries: maxRetries})
	b.consume(t, b.svc, created)
	runs := b.runJobsOf(t, created.JobID)
	if len(runs) != 1 {
		t.Fatalf("%d run-job records for the job; want 1", len(runs))
	}
	run := runs[0]
	rj := decodePayload[envelope.RunJob](t, run)
	return created.JobID, internalapi.AttemptRef{JobID: run.JobID, Attempt: rj.Attempt, DispatchID: run.EventID}
}

// runJobsOf returns the run-job records of a job (records of several
// partitions come in no global order).
func (b *testBundle) runJobsOf(t *testing.T, jobID string) []envelope.Envelope {
	t.Helper()
	var out []envelope.Envelope
	for _, e := range b.read(t, envelope.TopicRunJob, b.published(t, envelope.TopicRunJob)) {
		if e.JobID == jobID {
			out = append(out, e)
		}
	}
	return out
}

// age moves every dispatch d into the past.
func (b *testBundle) age(t *testing.T, d time.Duration) {
	t.Helper()
	b.exec(t, `UPDATE jobs SET dispatched_at = dispatched_at - $1::float8 * interval '1 microsecond'`, float64(d.Microseconds()))
	b.exec(t, `UPDATE job_attempts SET dispatched_at = dispatched_at - $1::float8 * interval '1 microsecond'`, float64(d.Microseconds()))
}

func (b *testBundle) start(t *testing.T, refs ...internalapi.AttemptRef) []string {
	t.Helper()
	resp, err := b.svc.StartAttempts(b.ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Started
}

// A dispatched job has no lease until a worker starts it: waiting in the
// run-job topic is never rescued, however long it lasts.
func TestDispatchedJobHasNoLeaseUntilStarted(t *testing.T) {
	b := setup(t, func(c *Config) { c.Lease, c.QueueTimeout = time.Second, 2*time.Hour })
	id, ref := b.dispatchOne(t, 0)
	if j := b.job(t, id); j.Status != internalapi.StatusRunning || j.LeaseUntil != nil || j.StartedAt != nil {
		t.Fatalf("dispatched job: %+v; want RUNNING without lease or start time", j)
	}
	// Far past any lease: the job is still only dispatched.
	b.age(t, time.Hour)
	if r := b.runOnce(t, b.svc); r.Rescued != 0 || r.Returned != 0 {
		t.Fatalf("pass on an unstarted job: %+v; want nothing rescued or returned", r)
	}

	started := b.start(t, ref)
	if len(started) != 1 || started[0] != ref.DispatchID {
		t.Fatalf("started %v; want [%s]", started, ref.DispatchID)
	}
	j := b.job(t, id)
	if j.LeaseUntil == nil || j.StartedAt == nil {
		t.Fatalf("started job: %+v; want a lease and a start time", j)
	}
	if n := b.count(t, `SELECT count(*) FROM job_attempts WHERE job_id = $1 AND attempt = 1 AND started_at IS NOT NULL`, id); n != 1 {
		t.Fatalf("attempt rows with a start time: %d; want 1", n)
	}
	// Starting again (a redelivery after a crash) is allowed and renews
	// the lease.
	if again := b.start(t, ref); len(again) != 1 {
		t.Fatalf("second start refused: %v", again)
	}
}

// A started attempt that never reports is still rescued by its lease.
func TestStartedAttemptThatHangsIsRescued(t *testing.T) {
	b := setup(t, nil)
	id, ref := b.dispatchOne(t, 0)
	b.start(t, ref)
	b.expire(t, id)
	if r := b.runOnce(t, b.svc); r.Rescued != 1 {
		t.Fatalf("pass: %+v; want one rescue", r)
	}
	if j := b.job(t, id); j.Status != internalapi.StatusFailed || j.LastErrorCode != CodeLeaseExpired {
		t.Fatalf("hung job: %+v; want FAILED with %s", j, CodeLeaseExpired)
	}
}

// Only the job's current dispatch may start: a record of a superseded,
// cancelled or finished attempt, or with a forged dispatch ID, is refused.
func TestStartRefusesAllButTheCurrentDispatch(t *testing.T) {
	b := setup(t, nil)
	_, ref := b.dispatchOne(t, 3)
	cases := []struct {
		name string
		ref  internalapi.AttemptRef
	}{
		{"another dispatch ID", internalapi.AttemptRef{JobID: ref.JobID, Attempt: ref.Attempt, DispatchID: uuid.NewString()}},
		{"an earlier attempt", internalapi.AttemptRef{JobID: ref.JobID, Attempt: ref.Attempt + 1, DispatchID: ref.DispatchID}},
		{"an unknown job", internalapi.AttemptRef{JobID: uuid.NewString(), Attempt: 1, DispatchID: ref.DispatchID}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := b.start(t, c.ref); len(got) != 0 {
				t.Fatalf("started %v; want none", got)
			}
		})
	}
	// A finished job refuses its own record.
	b.consume(t, b.svc, newResult(t, ref.JobID, ref.Attempt, "", false))
	if got := b.start(t, ref); len(got) != 0 {
		t.Fatalf("start of a completed job's attempt: %v; want none", got)
	}
	// So does a cancelled one.
	id2, ref2 := b.dispatchOne(t, 0)
	if rec := b.serve(t, http.MethodPost, internalapi.JobCancelPath(id2), ""); rec.Code != http.StatusOK {
		t.Fatalf("cancel: %d %s", rec.Code, rec.Body)
	}
	if got := b.start(t, ref2); len(got) != 0 {
		t.Fatalf("start of a cancelled job's attempt: %v; want none", got)
	}
}

// A released attempt is not charged: the job is PENDING again, dispatched
// again as the same attempt with a new dispatch, and the old record can
// no longer start.
func TestReleasedAttemptIsDispatchedAgainUncharged(t *testing.T) {
	b := setup(t, nil)
	id, ref := b.dispatchOne(t, 0)
	resp, err := b.svc.ReleaseAttempts(b.ctx, []internalapi.AttemptRef{ref})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Released) != 1 {
		t.Fatalf("released %v; want the one", resp.Released)
	}
	if j := b.job(t, id); j.Status != internalapi.StatusPending || j.Attempts != 0 {
		t.Fatalf("released job: %+v; want PENDING with 0 attempts", j)
	}
	if n := b.count(t, `SELECT count(*) FROM job_attempts WHERE job_id = $1`, id); n != 0 {
		t.Fatalf("attempt rows after release: %d; want 0", n)
	}
	if r := b.runOnce(t, b.svc); r.Fresh != 1 {
		t.Fatalf("pass after release: %+v; want the job dispatched again from the fresh queue", r)
	}
	runs := b.runJobsOf(t, id)
	if len(runs) != 2 {
		t.Fatalf("%d run-job records; want 2", len(runs))
	}
	again := runs[0]
	if again.EventID == ref.DispatchID {
		again = runs[1]
	}
	if decodePayload[envelope.RunJob](t, again).Attempt != 1 || again.EventID == ref.DispatchID {
		t.Fatalf("second dispatch %s attempt %d; want attempt 1 with a new dispatch ID", again.EventID, decodePayload[envelope.RunJob](t, again).Attempt)
	}
	if got := b.start(t, ref); len(got) != 0 {
		t.Fatalf("the released record started: %v", got)
	}
	if got := b.start(t, internalapi.AttemptRef{JobID: id, Attempt: 1, DispatchID: again.EventID}); len(got) != 1 {
		t.Fatalf("the new record was refused")
	}
	// Releasing what has started since is refused too: only the current
	// dispatch is released.
	if resp, _ := b.svc.ReleaseAttempts(b.ctx, []internalapi.AttemptRef{ref}); len(resp.Released) != 0 {
		t.Fatalf("released a superseded record: %v", resp.Released)
	}
}

// An attempt dispatched longer than the queue timeout ago that no worker
// started is taken back and dispatched again, uncharged; a started one is
// left to its lease.
func TestQueueTimeoutTakesBackUnstartedAttempts(t *testing.T) {
	b := setup(t, func(c *Config) { c.QueueTimeout = time.Minute })
	lost, lostRef := b.dispatchOne(t, 0)
	running, runningRef := b.dispatchOne(t, 0)
	b.start(t, runningRef)
	b.age(t, 2*time.Minute)
	r := b.runOnce(t, b.svc)
	if r.Returned != 1 || r.Rescued != 0 || r.Fresh != 1 {
		t.Fatalf("pass: %+v; want one attempt returned and dispatched again", r)
	}
	if j := b.job(t, lost); j.Status != internalapi.StatusRunning || j.Attempts != 1 {
		t.Fatalf("lost job: %+v; want RUNNING again as attempt 1", j)
	}
	if got := b.start(t, lostRef); len(got) != 0 {
		t.Fatalf("the stale record started: %v", got)
	}
	if j := b.job(t, running); j.Status != internalapi.StatusRunning || j.LeaseUntil == nil {
		t.Fatalf("started job: %+v; want it left RUNNING under its lease", j)
	}
}

// Redrive sends every RUNNING job's current attempt again with a new
// dispatch, uncharged; old records are refused.
func TestRedriveDispatchesRunningJobsAgain(t *testing.T) {
	b := setup(t, nil)
	a, aRef := b.dispatchOne(t, 0)
	c, cRef := b.dispatchOne(t, 0)
	b.start(t, cRef)
	n, err := b.svc.Redrive(b.ctx)
	if err != nil || n != 2 {
		t.Fatalf("Redrive = %d, %v; want 2", n, err)
	}
	for _, id := range []string{a, c} {
		runs := b.runJobsOf(t, id)
		if len(runs) != 2 || decodePayload[envelope.RunJob](t, runs[0]).Attempt != 1 || decodePayload[envelope.RunJob](t, runs[1]).Attempt != 1 {
			t.Fatalf("job %s has %d run-job records; want 2, both attempt 1", id, len(runs))
		}
	}
	for _, id := range []string{a, c} {
		if j := b.job(t, id); j.Status != internalapi.StatusRunning || j.Attempts != 1 || j.LeaseUntil != nil {
			t.Fatalf("redriven job: %+v; want RUNNING attempt 1, not started", j)
		}
	}
	if got := b.start(t, aRef, cRef); len(got) != 0 {
		t.Fatalf("old records started after a redrive: %v", got)
	}
}

// The HTTP form checks its body and answers internalapi.StartResponse.
func TestStartRoute(t *testing.T) {
	b := setup(t, nil)
	_, ref := b.dispatchOne(t, 0)
	for _, body := range []string{``, `{}x`, `{"attempts":[{"jobId":"x","attempt":1,"dispatchId":"y"}]}`, `{"attempts":[],"more":1}`} {
		if rec := b.serve(t, http.MethodPost, internalapi.PathAttemptsStart, body); rec.Code != http.StatusBadRequest {
			t.Errorf("body %q: %d %s; want 400", body, rec.Code, rec.Body)
		}
	}
	rec := b.serve(t, http.MethodPost, internalapi.PathAttemptsStart,
		`{"attempts":[{"jobId":"`+ref.JobID+`","attempt":1,"dispatchId":"`+ref.DispatchID+`"}]}`)
	resp := decodeJSON[internalapi.StartResponse](t, rec)
	if rec.Code != http.StatusOK || len(resp.Started) != 1 || resp.LeaseMs != b.svc.cfg.Lease.Milliseconds() {
		t.Fatalf("start: %d %s", rec.Code, rec.Body)
	}
}
