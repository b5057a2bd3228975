package scheduler

import (
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// A FAILED job retried by hand runs again under its ID with a fresh
// budget and attempt numbers that carry on; failing again makes a second
// dead letter; the history tells it all in order.
func TestManualRetry(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{MaxRetries: 1})
	id := created.JobID
	b.consume(t, b.svc, created) // attempt 1 dispatched
	// fail runs attempt n (due now) to a failure.
	fail := func(n int) {
		t.Helper()
		if st := b.job(t, id); st.Status != internalapi.StatusRunning || st.Attempts != n {
			b.exec(t, `UPDATE jobs SET next_run_at = now() WHERE id = $1`, id)
			b.runOnce(t, b.svc)
		}
		if st := b.job(t, id); st.Status != internalapi.StatusRunning || st.Attempts != n {
			t.Fatalf("before failing attempt %d: %+v", n, st)
		}
		b.consume(t, b.svc, newResult(t, id, n, "boom", false))
	}
	fail(1)
	fail(2)
	if st := b.job(t, id); st.Status != internalapi.StatusFailed {
		t.Fatalf("after two failures: %+v", st)
	}
	first := b.read(t, envelope.TopicJobDeadLetter, 1)[0]

	retry := func(jobID, dlqID, by string) (int, internalapi.JobRetryResponse, apierror.Body) {
		t.Helper()
		rec := b.serve(t, http.MethodPost, internalapi.JobRetryPath(jobID), `{"dlqId":"`+dlqID+`","by":"`+by+`"}`)
		if rec.Code == http.StatusAccepted {
			return rec.Code, decodeJSON[internalapi.JobRetryResponse](t, rec), apierror.Body{}
		}
		return rec.Code, internalapi.JobRetryResponse{}, decodeJSON[apierror.Body](t, rec)
	}
	want := internalapi.JobRetryResponse{JobID: id, Status: internalapi.StatusPending, NextAttempt: 3}
	for range 2 { // the same dlqId twice: the same answer, one retry
		code, res, e := retry(id, first.EventID, "")
		if code != http.StatusAccepted || res != want {
			t.Fatalf("retry = %d %+v %+v; want 202 %+v", code, res, e, want)
		}
	}
	st := b.job(t, id)
	if st.Status != internalapi.StatusPending || st.Attempts != 2 || st.FinishedAt != nil || st.NextRunAt == nil {
		t.Fatalf("after the retry: %+v", st)
	}
	if n := b.count(t, `SELECT count(*) FROM job_manual_retries WHERE job_id = $1 AND retried_by = 'anonymous'`, id); n != 1 {
		t.Fatalf("%d manual retry rows; want 1", n)
	}
	// Another dead letter's retry of a job that is no longer FAILED.
	if code, _, e := retry(id, uuid.NewString(), "ops"); code != http.StatusConflict || e.ErrorCode != CodeJobNotRetryable || e.JobID != id {
		t.Fatalf("retry of a PENDING job = %d %+v", code, e)
	}
	// Due now, on the retry queue: dispatched as attempt 3.
	if r := b.runOnce(t, b.svc); r.Retry != 1 {
		t.Fatalf("pass after the retry = %+v; want one retry dispatched", r)
	}
	fail(3) // the fresh budget has one retry
	if st := b.job(t, id); st.Status == internalapi.StatusFailed {
		t.Fatalf("attempt 3 of a fresh budget of 2 failed the job: %+v", st)
	}
	fail(4)
	if st := b.job(t, id); st.Status != internalapi.StatusFailed || st.Attempts != 4 {
		t.Fatalf("after attempt 4: %+v", st)
	}
	dls := b.read(t, envelope.TopicJobDeadLetter, 2)
	second := dls[1]
	if second.EventID == first.EventID {
		second = dls[0]
	}
	if second.EventID == first.EventID {
		t.Fatalf("the second failure made no new dead letter: %v", dls)
	}
	if dl := decodePayload[envelope.JobDeadLetter](t, second); dl.Reason != ReasonRetriesExhausted || len(dl.Attempts) != 4 {
		t.Fatalf("second dead letter = %+v", dl)
	}
	// The first dlqId again: still the first answer.
	if code, res, _ := retry(id, first.EventID, ""); code != http.StatusAccepted || res != want {
		t.Fatalf("repeated first retry = %d %+v", code, res)
	}

	rec := b.serve(t, http.MethodGet, internalapi.JobHistoryPath(id), "")
	if rec.Code != http.StatusOK {
		t.Fatalf("history = %d %s", rec.Code, rec.Body)
	}
	h := decodeJSON[internalapi.JobHistory](t, rec)
	var types []string
	for i, e := range h.Events {
		types = append(types, e.Type)
		if i > 0 && e.At.Before(h.Events[i-1].At) {
			t.Errorf("event %d (%s at %v) before the one before it (%v)", i, e.Type, e.At, h.Events[i-1].At)
		}
		switch e.Type {
		case internalapi.EventManualRetry:
			if e.DLQID != first.EventID || e.By != AnonymousCaller || e.Attempt != 3 {
				t.Errorf("manual retry event = %+v", e)
			}
		case internalapi.EventDeadLettered:
			if (e.Attempt == 2 && e.DLQID != first.EventID) || (e.Attempt == 4 && e.DLQID != second.EventID) {
				t.Errorf("dead-lettered event = %+v", e)
			}
		case internalapi.EventRetryScheduled:
			if e.NextRunAt == nil || e.NextRunAt.Before(e.At) {
				t.Errorf("retry event = %+v", e)
			}
		}
	}
	wantTypes := []string{"SUBMITTED",
		"DISPATCHED", "ATTEMPT_FAILED", "RETRY_SCHEDULED", "DISPATCHED", "ATTEMPT_FAILED", "FAILED", "DEAD_LETTERED",
		"MANUAL_RETRY",
		"DISPATCHED", "ATTEMPT_FAILED", "RETRY_SCHEDULED", "DISPATCHED", "ATTEMPT_FAILED", "FAILED", "DEAD_LETTERED"}
	if len(types) != len(wantTypes) {
		t.Fatalf("history types %v; want %v", types, wantTypes)
	}
	for i := range types {
		if types[i] != wantTypes[i] {
			t.Fatalf("history types %v; want %v", types, wantTypes)
		}
	}

	for _, tt := range []struct {
		path, body string
		status     int
		code       string
	}{
		{internalapi.JobRetryPath(uuid.NewString()), `{"dlqId":"` + uuid.NewString() + `"}`, http.StatusNotFound, CodeJobNotFound},
		{internalapi.JobRetryPath(id), `{"dlqId":"nope"}`, http.StatusBadRequest, CodeInvalidRequest},
		{internalapi.JobRetryPath(id), `{"dlqId":"` + uuid.NewString() + `","extra":1}`, http.StatusBadRequest, CodeInvalidRequest},
		{internalapi.JobRetryPath(id), `{"dlqId":"` + uuid.NewString() + `"} {}`, http.StatusBadRequest, CodeInvalidRequest},
		{internalapi.JobRetryPath("42"), `{"dlqId":"` + uuid.NewString() + `"}`, http.StatusBadRequest, CodeInvalidRequest},
	} {
		rec := b.serve(t, http.MethodPost, tt.path, tt.body)
		if rec.Code != tt.status || decodeJSON[apierror.Body](t, rec).ErrorCode != tt.code {
			t.Errorf("POST %s %s = %d %s; want %d %s", tt.path, tt.body, rec.Code, rec.Body, tt.status, tt.code)
		}
	}
	if rec := b.serve(t, http.MethodGet, internalapi.JobHistoryPath(uuid.NewString()), ""); rec.Code != http.StatusNotFound ||
		decodeJSON[apierror.Body](t, rec).ErrorCode != CodeJobNotFound {
		t.Errorf("history of an unknown job = %d %s", rec.Code, rec.Body)
	}
}

// A different dead letter's retry of a job that is FAILED again starts
// another budget; a COMPLETED job is not retryable.
func TestManualRetryOnlyOfFailedJobs(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{MaxRetries: 0})
	b.consume(t, b.svc, created)
	b.consume(t, b.svc, newResult(t, created.JobID, 1, "", false))
	rec := b.serve(t, http.MethodPost, internalapi.JobRetryPath(created.JobID), `{"dlqId":"`+uuid.NewString()+`","by":"ops"}`)
	if rec.Code != http.StatusConflict || decodeJSON[apierror.Body](t, rec).ErrorCode != CodeJobNotRetryable {
		t.Fatalf("retry of a COMPLETED job = %d %s", rec.Code, rec.Body)
	}
}
