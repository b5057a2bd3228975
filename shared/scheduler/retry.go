package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/strictjson"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// Bounds of a manual retry request.
const (
	maxRetryBody = 4 << 10
	// MaxRetryByLen bounds JobRetryRequest.By, in characters.
	MaxRetryByLen = 256
	// AnonymousCaller is who a retry request without By is recorded as
	// (until access control names callers).
	AnonymousCaller = "anonymous"
)

// serveRetry is POST internalapi.PathJobRetry.
func (s *Service) serveRetry(w http.ResponseWriter, r *http.Request) {
	id, body, ok := s.jobRequest(w, r, maxRetryBody)
	if !ok {
		return
	}
	req, err := decodeRetry(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.retry(r.Context(), id, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusAccepted, res)
}

// decodeRetry reads {dlqId, by}: dlqId a UUID (the dead letter's event
// ID), by at most MaxRetryByLen characters (AnonymousCaller if empty).
func decodeRetry(body []byte) (internalapi.JobRetryRequest, error) {
	const want = `body must be one JSON object {"dlqId": "<the dead letter's ID>", "by": "<who asks>"}`
	var req internalapi.JobRetryRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, invalid("%s: %v", want, err)
	}
	if err := strictjson.CheckEnd(body, dec.InputOffset()); err != nil {
		return req, invalid("%s: %v", want, err)
	}
	id, err := uuid.Parse(req.DLQID)
	if err != nil || len(req.DLQID) != 36 {
		return req, invalid("dlqId must be a UUID (got %q)", req.DLQID)
	}
	req.DLQID = id.String()
	req.By = strings.TrimSpace(req.By)
	switch {
	case req.By == "":
		req.By = AnonymousCaller
	case !utf8.ValidString(req.By) || strings.ContainsRune(req.By, 0):
		return req, invalid("by must be UTF-8 text without NUL characters")
	case utf8.RuneCountInString(req.By) > MaxRetryByLen:
		return req, invalid("by must be at most %d characters", MaxRetryByLen)
	}
	return req, nil
}

// retry makes a FAILED job PENDING again, due now, with a fresh retry
// budget (maxRetryCount+1 more attempts, numbered on from its last), and
// records the retry under its dlqId. The same dlqId again answers as the
// first time and changes nothing. A job that is not FAILED is an
// *apierror.Error with CodeJobNotRetryable; an unknown one, CodeJobNotFound.
func (s *Service) retry(ctx context.Context, id string, req internalapi.JobRetryRequest) (internalapi.JobRetryResponse, error) {
	res := internalapi.JobRetryResponse{JobID: id, Status: internalapi.StatusPending}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
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
		ctx := trace.With(ctx, traceID, id)
		var after int
		err = tx.QueryRow(ctx, `SELECT after_attempt FROM job_manual_retries WHERE job_id = $1::uuid AND dlq_id = $2::uuid`,
			id, req.DLQID).Scan(&after)
		switch {
		case err == nil:
			res.NextAttempt = after + 1
			s.log.InfoContext(ctx, "manual retry repeated; nothing changes", "dlqId", req.DLQID, "status", status)
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("scheduler: read the retries of job %s: %w", id, err)
		}
		if status != internalapi.StatusFailed {
			return apierror.New(http.StatusConflict, CodeJobNotRetryable,
				fmt.Sprintf("job %s is %s; only a FAILED job can be retried", id, status)).WithJob(id)
		}
		tag, err := tx.Exec(ctx, `
			UPDATE jobs SET status = 'PENDING', budget_base = attempts, next_run_at = now(),
			       lease_until = NULL, dispatch_id = NULL, dispatched_at = NULL, finished_at = NULL,
			       updated_at = now(), version = version + 1
			 WHERE id = $1::uuid AND version = $2`, id, version)
		if err != nil {
			return fmt.Errorf("scheduler: retry job %s: %w", id, err)
		}
		if tag.RowsAffected() != 1 {
			return errVersionConflict
		}
		if err := dropTimedOutCallback(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO job_manual_retries (job_id, dlq_id, retried_by, after_attempt)
			VALUES ($1::uuid, $2::uuid, $3, $4)`, id, req.DLQID, req.By, attempts); err != nil {
			return fmt.Errorf("scheduler: record the retry of job %s: %w", id, err)
		}
		res.NextAttempt = attempts + 1
		s.log.InfoContext(ctx, "job retried manually", "dlqId", req.DLQID, "by", req.By, "nextAttempt", attempts+1)
		return nil
	})
	return res, err
}
