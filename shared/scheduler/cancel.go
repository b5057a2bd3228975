package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/strictjson"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// maxCancelBody bounds the submission a cancel request carries.
const maxCancelBody = 1 << 20

func (s *Service) serveCancel(w http.ResponseWriter, r *http.Request) {
	id, body, ok := s.jobRequest(w, r, maxCancelBody)
	if !ok {
		return
	}
	sub, err := decodeCancel(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.cancel(r.Context(), id, sub)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, st)
}

// jobRequest reads a POST to one job's route: the job's ID from the path
// and a body of at most limit bytes. It answers a bad one itself, and
// then reports false.
func (s *Service) jobRequest(w http.ResponseWriter, r *http.Request, limit int64) (id string, body []byte, ok bool) {
	id, err := pathJobID(r)
	if err != nil {
		s.fail(w, r, err)
		return "", nil, false
	}
	if body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		s.fail(w, r, invalid("body must be at most %d bytes of JSON", limit))
		return "", nil, false
	}
	return id, body, true
}

// decodeCancel reads a cancel request's body: nothing (cancel only a job
// the scheduler has), or exactly one JSON object of internalapi.CancelRequest's fields.
// An object that names a jobType is a submission, which may record an
// unknown job as CANCELLED, so it must be whole as the api sends it: a
// valid job spec whose payload holds steps, and its createdAt.
func decodeCancel(body []byte) (*internalapi.CancelRequest, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	const want = "body must be empty or the job's submission as the api sends it: one JSON object {jobType, payload: {steps: [...]}, maxRetryCount, createdAt, traceId}"
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	sub := new(internalapi.CancelRequest)
	if err := dec.Decode(sub); err != nil {
		return nil, invalid("%s: %v", want, err)
	}
	if err := strictjson.CheckEnd(body, dec.InputOffset()); err != nil {
		return nil, invalid("%s: %v", want, err)
	}
	if sub.JobType == "" {
		return sub, nil
	}
	if err := checkSpec(sub.JobSpec); err != nil {
		return nil, invalid("submission: %v", err)
	}
	var payload struct {
		Steps []json.RawMessage `json:"steps"`
	}
	if sub.JobType == "WEBHOOK" {
		// Its payload is one delivery, not a step list (jobspec.Webhook);
		// the api validated it.
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(sub.Payload, &obj); err != nil || len(obj) == 0 {
			return nil, invalid("submission: payload must be a non-empty object")
		}
	} else if err := json.Unmarshal(sub.Payload, &payload); err != nil || len(payload.Steps) == 0 {
		return nil, invalid("submission: payload must be an object with a non-empty steps array")
	}
	if sub.CreatedAt.IsZero() {
		return nil, invalid("submission: createdAt is required (the time the api accepted the job)")
	}
	return sub, nil
}

// cancel makes a PENDING or RUNNING job CANCELLED, recording who (sub.By;
// none is "anonymous"). A job the scheduler has not seen is recorded as
// CANCELLED from sub, its submission, if given.
// A finished job is an *apierror.Error with CodeJobTerminal.
func (s *Service) cancel(ctx context.Context, id string, sub *internalapi.CancelRequest) (internalapi.JobStatus, error) {
	var st internalapi.JobStatus
	by := "anonymous"
	if sub != nil {
		by = callerOrAnonymous(sub.By)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if sub != nil && sub.JobType != "" {
			traceID := clean(sub.TraceID)
			if traceID == "" {
				traceID = trace.TraceID(ctx)
			}
			created := &sub.CreatedAt
			tag, err := tx.Exec(ctx, `
				INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts,
				                  next_run_at, created_at, finished_at, created_by, cancelled_by)
				VALUES ($1::uuid, $2, $3::text::jsonb, $4, $5, 'CANCELLED', 0,
				        now(), coalesce($6::timestamptz, now()), now(), $7, $8)
				ON CONFLICT (id) DO NOTHING`,
				id, sub.JobType, string(sub.Payload), sub.MaxRetryCount, traceID, created,
				callerOrAnonymous(sub.CreatedBy), callerOrAnonymous(sub.By))
			if err != nil {
				return fmt.Errorf("scheduler: record cancelled job: %w", err)
			}
			if tag.RowsAffected() == 1 {
				s.log.InfoContext(trace.With(ctx, traceID, id), "job cancelled before it was ingested")
				st, err = jobGetByID(ctx, tx, id)
				return err
			}
		}
		var (
			status            string
			attempts, version int
			traceID           string
		)
		err := tx.QueryRow(ctx, `SELECT status, attempts, version, trace_id FROM jobs WHERE id = $1::uuid FOR UPDATE`, id).
			Scan(&status, &attempts, &version, &traceID)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(id)
		}
		if err != nil {
			return fmt.Errorf("scheduler: lock job %s: %w", id, err)
		}
		if internalapi.Terminal(status) {
			return apierror.New(http.StatusConflict, CodeJobTerminal,
				fmt.Sprintf("job %s is already %s; only PENDING or RUNNING jobs can be cancelled", id, status)).WithJob(id)
		}
		tag, err := tx.Exec(ctx, `
			UPDATE jobs j SET status = 'CANCELLED', lease_until = NULL, finished_at = now(),
			       started_at = coalesce(j.started_at, `+currentAttemptStart+`),
			       updated_at = now(), version = j.version + 1, cancelled_by = $3
			 WHERE j.id = $1::uuid AND j.version = $2`, id, version, by)
		if err != nil {
			return fmt.Errorf("scheduler: cancel job %s: %w", id, err)
		}
		if tag.RowsAffected() != 1 {
			return errVersionConflict
		}
		if status == internalapi.StatusRunning {
			// The attempt in flight ends here; its result will be ignored.
			if _, err := tx.Exec(ctx, `
				UPDATE job_attempts
				   SET outcome = 'CANCELLED', finished_at = now(),
				       duration_ms = (extract(epoch FROM now() - dispatched_at) * 1000)::bigint
				 WHERE job_id = $1::uuid AND attempt = $2 AND outcome IS NULL`, id, attempts); err != nil {
				return fmt.Errorf("scheduler: close attempt %d of job %s: %w", attempts, id, err)
			}
		}
		s.log.InfoContext(trace.With(ctx, traceID, id), "job cancelled", "was", status, "attempts", attempts)
		st, err = jobGetByID(ctx, tx, id)
		return err
	})
	return st, err
}
