package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
)

// Entry statuses an operator's actions set.
const (
	StatusRetried   = internalapi.DLQStatusRetried
	StatusDismissed = internalapi.DLQStatusDismissed
)

// Codes of the actions' refusals.
const (
	CodeNotNew               = "DLQ.ENTRY_NOT_NEW"
	CodeNotRetryable         = "DLQ.ENTRY_NOT_RETRYABLE"
	CodeSchedulerUnavailable = "DLQ.SCHEDULER_UNAVAILABLE"
)

// unretryable are the reasons of entries with no job behind them.
var unretryable = map[string]bool{ReasonPoisonRecord: true, ReasonMappingFailure: true, "OUTBOX_PARKED": true}

// dismissable are the statuses an entry may be dismissed from: NEW, and a
// mapping failure left for an operator.
var dismissable = []string{StatusNew, StatusPartlyReplayed}

// schedulerCallTimeout bounds one call to the scheduler.
const schedulerCallTimeout = 10 * time.Second

// Retry asks the scheduler to run the entry's job again (idempotent per
// entry: internalapi.PathJobRetry) and marks the entry RETRIED, by by. The
// entry is locked meanwhile, so a concurrent retry or dismiss waits. A
// crash between the scheduler's answer and the mark leaves the entry NEW:
// retrying it again gets the same answer from the scheduler and marks it.
// Errors: ErrNotFound, 409 DLQ.ENTRY_NOT_NEW, 409 DLQ.ENTRY_NOT_RETRYABLE,
// 503 DLQ.SCHEDULER_UNAVAILABLE.
func (s *Service) Retry(ctx context.Context, id, by string) (internalapi.ActionResponse, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return internalapi.ActionResponse{}, fmt.Errorf("dlq: retry: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	resp, err := s.retryLocked(ctx, tx, id, by)
	if err != nil {
		return resp, err
	}
	if err := tx.Commit(ctx); err != nil {
		return internalapi.ActionResponse{}, fmt.Errorf("dlq: retry: %w", err)
	}
	return resp, nil
}

// retryLocked is Retry inside tx.
func (s *Service) retryLocked(ctx context.Context, tx pgx.Tx, id, by string) (internalapi.ActionResponse, error) {
	cur, err := lockEntry(ctx, tx, id)
	if err != nil {
		return internalapi.ActionResponse{}, err
	}
	resp := internalapi.ActionResponse{DLQID: id, JobID: cur.jobID}
	if cur.status != StatusNew {
		return resp, notNew(id, cur)
	}
	if cur.jobID == "" || unretryable[cur.reason] {
		return resp, apierror.New(http.StatusConflict, CodeNotRetryable,
			fmt.Sprintf("dead letter %s is a %s entry with no job behind it: it cannot be retried, only dismissed", id, cur.reason))
	}
	next, err := s.retryJob(ctx, id, cur.jobID, by)
	if err != nil {
		return resp, err
	}
	if _, err := tx.Exec(ctx, `UPDATE dead_letters SET status = $2, resolved_at = now(), resolved_by = $3, retried_attempt = $4
		WHERE event_id = $1`, id, StatusRetried, by, next); err != nil {
		return resp, fmt.Errorf("dlq: mark %s retried: %w", id, err)
	}
	resp.Status = StatusRetried
	return resp, nil
}

// Dismiss marks the entry DISMISSED, by by. It is kept until retention
// removes it. Errors: ErrNotFound, 409 DLQ.ENTRY_NOT_NEW.
func (s *Service) Dismiss(ctx context.Context, id, by string) (internalapi.ActionResponse, error) {
	var jobID string
	err := s.pool.QueryRow(ctx, `UPDATE dead_letters SET status = $2, resolved_at = now(), resolved_by = $3
		WHERE event_id = $1::text::uuid AND status = ANY($4) RETURNING coalesce(job_id::text, '')`,
		id, StatusDismissed, by, dismissable).Scan(&jobID)
	if err == nil {
		return internalapi.ActionResponse{DLQID: id, JobID: jobID, Status: StatusDismissed}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return internalapi.ActionResponse{}, fmt.Errorf("dlq: dismiss %s: %w", id, err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return internalapi.ActionResponse{}, fmt.Errorf("dlq: dismiss %s: %w", id, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	cur, err := lockEntry(ctx, tx, id)
	if err != nil {
		return internalapi.ActionResponse{}, err
	}
	return internalapi.ActionResponse{DLQID: id, JobID: cur.jobID}, notNew(id, cur)
}

// entryState is what an action needs to know of an entry.
type entryState struct {
	jobID, reason, status, resolvedBy string
	resolvedAt                        *time.Time
}

// lockEntry reads and locks an entry, or returns ErrNotFound.
func lockEntry(ctx context.Context, tx pgx.Tx, id string) (entryState, error) {
	var e entryState
	err := tx.QueryRow(ctx, `SELECT coalesce(job_id::text, ''), reason, status, resolved_at, coalesce(resolved_by, '')
		FROM dead_letters WHERE event_id = $1::text::uuid FOR UPDATE`, id).Scan(&e.jobID, &e.reason, &e.status, &e.resolvedAt, &e.resolvedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, ErrNotFound
	}
	if err != nil {
		return e, fmt.Errorf("dlq: read entry %s: %w", id, err)
	}
	return e, nil
}

// notNew is the 409 for an entry that an action no longer applies to; the
// message says what it is.
func notNew(id string, e entryState) error {
	msg := fmt.Sprintf("dead letter %s is already %s", id, e.status)
	if e.resolvedAt != nil {
		msg += fmt.Sprintf(" (at %s", e.resolvedAt.UTC().Format(time.RFC3339))
		if e.resolvedBy != "" {
			msg += " by " + e.resolvedBy
		}
		msg += ")"
	}
	return apierror.New(http.StatusConflict, CodeNotNew, msg)
}

// retryJob asks the scheduler to run jobID again for the entry id and
// returns the attempt number it runs next.
func (s *Service) retryJob(ctx context.Context, id, jobID, by string) (int, error) {
	unavailable := func(why string) error {
		s.log.WarnContext(ctx, "scheduler retry call failed", "id", id, "jobId", jobID, "error", why)
		return apierror.New(http.StatusServiceUnavailable, CodeSchedulerUnavailable, "the scheduler function is unavailable; retry later")
	}
	if s.cfg.Scheduler == nil {
		return 0, unavailable("no scheduler invoker configured")
	}
	body, _ := json.Marshal(internalapi.JobRetryRequest{DLQID: id, By: by})
	cctx, cancel := context.WithTimeout(ctx, schedulerCallTimeout)
	defer cancel()
	status, out, err := invoke.HTTP(cctx, s.cfg.Scheduler, invoke.Scheduler, http.MethodPost, internalapi.JobRetryPath(jobID), nil, body)
	if err != nil {
		return 0, unavailable(err.Error())
	}
	switch status {
	case http.StatusAccepted, http.StatusOK:
		var r internalapi.JobRetryResponse
		if err := json.Unmarshal(out, &r); err != nil {
			return 0, unavailable(fmt.Sprintf("undecodable answer: %v", err))
		}
		return r.NextAttempt, nil
	case http.StatusConflict, http.StatusNotFound:
		var b apierror.Body
		_ = json.Unmarshal(out, &b)
		if status == http.StatusNotFound && b.ErrorCode != internalapi.CodeJobNotFound {
			break // no such route: a scheduler without manual retries
		}
		msg := b.Message
		if msg == "" {
			msg = http.StatusText(status)
		}
		return 0, apierror.New(http.StatusConflict, CodeNotRetryable,
			fmt.Sprintf("dead letter %s: the scheduler will not run job %s again: %s", id, jobID, msg)).WithJob(jobID)
	}
	return 0, unavailable(fmt.Sprintf("status %d: %.300s", status, out))
}
