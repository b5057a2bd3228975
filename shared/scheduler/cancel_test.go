package scheduler

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

func cancelBody(t *testing.T, created envelope.Envelope) string {
	t.Helper()
	var c envelope.JobCreated
	if err := created.DecodePayload(&c); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(internalapi.CancelRequest{JobCreated: c, TraceID: created.TraceID})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCancelPendingJob(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{})
	b.consume(t, b.service(t, paused), created)

	rec := b.serve(t, http.MethodPost, internalapi.JobCancelPath(created.JobID), "")
	if rec.Code != http.StatusOK {
		t.Fatalf("cancel = %d %s", rec.Code, rec.Body)
	}
	st := decodeJSON[internalapi.JobStatus](t, rec)
	if st.Status != internalapi.StatusCancelled || st.JobID != created.JobID || st.FinishedAt == nil || st.Version != 1 || st.NextRunAt != nil {
		t.Fatalf("status = %+v", st)
	}
	if r := b.runOnce(t, b.svc); r.Dispatched != 0 {
		t.Fatalf("dispatched a cancelled job: %+v", r)
	}

	// Cancelled is terminal.
	rec = b.serve(t, http.MethodPost, internalapi.JobCancelPath(created.JobID), cancelBody(t, created))
	if rec.Code != http.StatusConflict {
		t.Fatalf("second cancel = %d %s", rec.Code, rec.Body)
	}
	body := decodeJSON[apierror.Body](t, rec)
	if body.ErrorCode != CodeJobTerminal || !strings.Contains(body.Message, internalapi.StatusCancelled) || body.JobID != created.JobID || body.TraceID != "trace-http" {
		t.Fatalf("409 body = %+v", body)
	}
}

func TestCancelFinishedJobConflicts(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{})
	b.consume(t, b.svc, created)
	b.consume(t, b.svc, newResult(t, created.JobID, 1, "", false))
	rec := b.serve(t, http.MethodPost, internalapi.JobCancelPath(created.JobID), "")
	if rec.Code != http.StatusConflict {
		t.Fatalf("cancel = %d %s", rec.Code, rec.Body)
	}
	if body := decodeJSON[apierror.Body](t, rec); !strings.Contains(body.Message, internalapi.StatusCompleted) {
		t.Fatalf("message %q does not name the status", body.Message)
	}
	if j := b.job(t, created.JobID); j.Status != internalapi.StatusCompleted {
		t.Fatalf("job = %+v", j)
	}
}

func TestCancelRunningJobIgnoresItsResult(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{MaxRetries: 0})
	b.consume(t, b.svc, created)
	if rec := b.serve(t, http.MethodPost, internalapi.JobCancelPath(created.JobID), ""); rec.Code != http.StatusOK {
		t.Fatalf("cancel = %d %s", rec.Code, rec.Body)
	}
	if n := b.count(t, `SELECT count(*) FROM job_attempts WHERE job_id = $1 AND outcome = 'CANCELLED'`, created.JobID); n != 1 {
		t.Fatalf("attempt in flight not closed")
	}
	b.consume(t, b.svc, newResult(t, created.JobID, 1, "boom", false))
	b.expire(t, created.JobID)
	b.runOnce(t, b.svc)
	if j := b.job(t, created.JobID); j.Status != internalapi.StatusCancelled || j.LastError != "" {
		t.Fatalf("job = %+v", j)
	}
	b.read(t, envelope.TopicJobDeadLetter, 0)
}

func TestCancelBeforeIngestRecordsTheJob(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{MaxRetries: 4})
	rec := b.serve(t, http.MethodPost, internalapi.JobCancelPath(created.JobID), cancelBody(t, created))
	if rec.Code != http.StatusOK {
		t.Fatalf("cancel = %d %s", rec.Code, rec.Body)
	}
	st := decodeJSON[internalapi.JobStatus](t, rec)
	if st.Status != internalapi.StatusCancelled || st.JobType != "SIMULATION" || st.MaxRetryCount != 4 || st.TraceID != created.TraceID || st.Attempts != 0 {
		t.Fatalf("status = %+v", st)
	}
	// The job-created that arrives later finds the row and does nothing.
	b.consume(t, b.svc, created)
	if j := b.job(t, created.JobID); j.Status != internalapi.StatusCancelled || j.Attempts != 0 {
		t.Fatalf("job = %+v", j)
	}
	b.read(t, envelope.TopicRunJob, 0)
}

func TestCancelErrors(t *testing.T) {
	b := setup(t, nil)
	tests := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"unknown job without submission", internalapi.JobCancelPath(uuid.NewString()), "", http.StatusNotFound, CodeJobNotFound},
		{"bad id", internalapi.JobCancelPath("not-a-uuid"), "", http.StatusBadRequest, CodeInvalidRequest},
		{"body not JSON", internalapi.JobCancelPath(uuid.NewString()), "{", http.StatusBadRequest, CodeInvalidRequest},
		{"submission without payload", internalapi.JobCancelPath(uuid.NewString()), `{"jobType":"SIMULATION"}`, http.StatusBadRequest, CodeInvalidRequest},
		{"trailing brace", internalapi.JobCancelPath(uuid.NewString()), validCancel + `}`, http.StatusBadRequest, CodeInvalidRequest},
		{"two objects", internalapi.JobCancelPath(uuid.NewString()), validCancel + ` {}`, http.StatusBadRequest, CodeInvalidRequest},
		{"trailing garbage", internalapi.JobCancelPath(uuid.NewString()), validCancel + `x`, http.StatusBadRequest, CodeInvalidRequest},
		{"unknown job, empty object", internalapi.JobCancelPath(uuid.NewString()), `{}`, http.StatusNotFound, CodeJobNotFound},
		{"unknown job, white space", internalapi.JobCancelPath(uuid.NewString()), " \n", http.StatusNotFound, CodeJobNotFound},
		{"not an object", internalapi.JobCancelPath(uuid.NewString()), `[]`, http.StatusBadRequest, CodeInvalidRequest},
		{"unknown field", internalapi.JobCancelPath(uuid.NewString()), `{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG"}]},"createdAt":"2026-01-02T03:04:05Z","status":"CANCELLED"}`, http.StatusBadRequest, CodeInvalidRequest},
		{"trailing data", internalapi.JobCancelPath(uuid.NewString()), `{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG"}]},"createdAt":"2026-01-02T03:04:05Z"}}`, http.StatusBadRequest, CodeInvalidRequest},
		{"payload without steps", internalapi.JobCancelPath(uuid.NewString()), `{"jobType":"SIMULATION","payload":{"x":1},"createdAt":"2026-01-02T03:04:05Z"}`, http.StatusBadRequest, CodeInvalidRequest},
		{"empty steps", internalapi.JobCancelPath(uuid.NewString()), `{"jobType":"SIMULATION","payload":{"steps":[]},"createdAt":"2026-01-02T03:04:05Z"}`, http.StatusBadRequest, CodeInvalidRequest},
		{"payload not an object", internalapi.JobCancelPath(uuid.NewString()), `{"jobType":"SIMULATION","payload":"x","createdAt":"2026-01-02T03:04:05Z"}`, http.StatusBadRequest, CodeInvalidRequest},
		{"submission without createdAt", internalapi.JobCancelPath(uuid.NewString()), `{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG"}]}}`, http.StatusBadRequest, CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := b.serve(t, http.MethodPost, tt.path, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status = %d %s", rec.Code, rec.Body)
			}
			if body := decodeJSON[apierror.Body](t, rec); body.ErrorCode != tt.code {
				t.Fatalf("body = %+v", body)
			}
		})
	}
	// None of them recorded a job out of nothing.
	if n := b.count(t, `SELECT count(*) FROM jobs`); n != 0 {
		t.Fatalf("%d jobs recorded by refused cancels", n)
	}
	// Whitespace after the submission is fine: the job is recorded as CANCELLED.
	if rec := b.serve(t, http.MethodPost, internalapi.JobCancelPath(uuid.NewString()), validCancel+" \n"); rec.Code != http.StatusOK {
		t.Fatalf("cancel with trailing whitespace = %d %s", rec.Code, rec.Body)
	}
}

// validCancel is a cancel body the scheduler accepts.
const validCancel = `{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"x"}]},"maxRetryCount":1,"createdAt":"2026-01-02T03:04:05Z","traceId":"t"}`
