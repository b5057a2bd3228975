package scheduler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// A job's history is derived, not logged: the job row and its attempt
// rows already hold when each attempt was dispatched, started and
// finished, how, and (retry_at, dead_letter_id, written by the statement
// that records the outcome) what followed. Only manual retries have rows
// of their own (job_manual_retries). So the hot path writes nothing for
// the history.

// historyJob is what the history needs of a job row.
type historyJob struct {
	ID            string
	Status        string
	MaxRetryCount int
	CreatedAt     time.Time
	FinishedAt    *time.Time
	NextRunAt     time.Time
	CancelledBy   string // "" when unknown
}

// historyAttempt is one job_attempts row.
type historyAttempt struct {
	Attempt      int
	DispatchedAt time.Time
	StartedAt    *time.Time
	FinishedAt   *time.Time
	Outcome      string // "" while in flight
	ErrorCode    string
	Error        string
	RetryAt      *time.Time
	DeadLetterID string
}

// manualRetry is one job_manual_retries row.
type manualRetry struct {
	DLQID        string
	By           string
	AfterAttempt int
	At           time.Time
}

// deriveHistory builds a job's events, oldest first, from its row, its
// attempts (by attempt number) and its manual retries (by after_attempt).
// The order is the lifecycle's, each time being when that step happened.
func deriveHistory(j historyJob, attempts []historyAttempt, retries []manualRetry) []internalapi.HistoryEvent {
	ev := []internalapi.HistoryEvent{{At: j.CreatedAt.UTC(), Type: internalapi.EventSubmitted}}
	add := func(e internalapi.HistoryEvent) {
		e.At = e.At.UTC()
		if e.NextRunAt != nil {
			t := e.NextRunAt.UTC()
			e.NextRunAt = &t
		}
		ev = append(ev, e)
	}
	ri, base := 0, 0 // next manual retry; attempts before the current budget
	retriesUpTo := func(n int) {
		for ; ri < len(retries) && retries[ri].AfterAttempt <= n; ri++ {
			r := retries[ri]
			add(internalapi.HistoryEvent{At: r.At, Type: internalapi.EventManualRetry, Attempt: r.AfterAttempt + 1,
				By: r.By, DLQID: r.DLQID})
			base = r.AfterAttempt
		}
	}
	for i, a := range attempts {
		retriesUpTo(a.Attempt - 1)
		last := i == len(attempts)-1
		add(internalapi.HistoryEvent{At: a.DispatchedAt, Type: internalapi.EventDispatched, Attempt: a.Attempt})
		if a.StartedAt != nil {
			add(internalapi.HistoryEvent{At: *a.StartedAt, Type: internalapi.EventStarted, Attempt: a.Attempt})
		}
		ended := a.DispatchedAt
		if a.FinishedAt != nil {
			ended = *a.FinishedAt
		}
		switch a.Outcome {
		case OutcomeYielded, OutcomeParked: // uncharged: the budget moves on
			base++
			typ := internalapi.EventAttemptYielded
			var next *time.Time
			if a.Outcome == OutcomeParked {
				typ, next = internalapi.EventParked, a.RetryAt
			}
			add(internalapi.HistoryEvent{At: ended, Type: typ, Attempt: a.Attempt, Message: a.Error, ErrorCode: a.ErrorCode, NextRunAt: next})
		case OutcomeCompleted:
			add(internalapi.HistoryEvent{At: ended, Type: internalapi.EventAttemptCompleted, Attempt: a.Attempt})
		case OutcomeFailed, OutcomeLeaseExpired:
			typ := internalapi.EventAttemptFailed
			if a.Outcome == OutcomeLeaseExpired {
				typ = internalapi.EventLeaseExpired
			}
			add(internalapi.HistoryEvent{At: ended, Type: typ, Attempt: a.Attempt, Message: a.Error, ErrorCode: a.ErrorCode})
			retriedManually := ri < len(retries) && retries[ri].AfterAttempt == a.Attempt
			if retriedManually || (last && j.Status == internalapi.StatusFailed) {
				reason, msg := ReasonPermanentFailure, "the failure is permanent: no retry"
				if (jobState{MaxRetryCount: j.MaxRetryCount, BudgetBase: base}).retriesLeft(a.Attempt) <= 0 {
					reason, msg = ReasonRetriesExhausted, fmt.Sprintf("no retries left after %s", attemptsText(a.Attempt-base))
				}
				add(internalapi.HistoryEvent{At: ended, Type: internalapi.EventFailed, Attempt: a.Attempt,
					Message: a.Error, ErrorCode: a.ErrorCode})
				add(internalapi.HistoryEvent{At: ended, Type: internalapi.EventDeadLettered, Attempt: a.Attempt,
					Message: reason + ": " + msg, ErrorCode: a.ErrorCode, DLQID: a.DeadLetterID})
				continue
			}
			next := a.RetryAt
			if next == nil && last && j.Status == internalapi.StatusPending {
				next = &j.NextRunAt // recorded before migration 00007
			}
			add(internalapi.HistoryEvent{At: ended, Type: internalapi.EventRetryScheduled, Attempt: a.Attempt + 1, NextRunAt: next})
		}
	}
	retriesUpTo(int(^uint(0) >> 1))
	at := j.CreatedAt
	if j.FinishedAt != nil {
		at = *j.FinishedAt
	}
	lastAttempt := 0
	if n := len(attempts); n > 0 {
		lastAttempt = attempts[n-1].Attempt
	}
	switch j.Status {
	case internalapi.StatusCompleted:
		add(internalapi.HistoryEvent{At: at, Type: internalapi.EventCompleted, Attempt: lastAttempt})
	case internalapi.StatusCancelled:
		e := internalapi.HistoryEvent{At: at, Type: internalapi.EventCancelled, By: j.CancelledBy}
		if n := len(attempts); n > 0 && attempts[n-1].Outcome == OutcomeCancelled {
			e.Attempt = lastAttempt // it was running
		}
		add(e)
	case internalapi.StatusFailed:
		if ev[len(ev)-1].Type != internalapi.EventDeadLettered { // no failed attempt says why
			add(internalapi.HistoryEvent{At: at, Type: internalapi.EventFailed, Attempt: lastAttempt})
		}
	}
	return ev
}

// jobHistoryGet reads a job's row, attempts and manual retries in one
// snapshot and derives its history, or returns errJobNotFound.
func jobHistoryGet(ctx context.Context, q *pgxpool.Pool, id string) (internalapi.JobHistory, error) {
	h := internalapi.JobHistory{JobID: id}
	err := pgx.BeginTxFunc(ctx, q, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		j := historyJob{ID: id}
		err := tx.QueryRow(ctx, `SELECT status, max_retry_count, created_at, finished_at, next_run_at, coalesce(cancelled_by, '')
			  FROM jobs WHERE id = $1::uuid`, id).
			Scan(&j.Status, &j.MaxRetryCount, &j.CreatedAt, &j.FinishedAt, &j.NextRunAt, &j.CancelledBy)
		if errors.Is(err, pgx.ErrNoRows) {
			return errJobNotFound
		}
		if err != nil {
			return fmt.Errorf("scheduler: read job %s: %w", id, err)
		}
		rows, err := tx.Query(ctx, `
			SELECT attempt, dispatched_at, started_at, finished_at, coalesce(outcome, ''),
			       coalesce(error_code, ''), coalesce(error, ''), retry_at, coalesce(dead_letter_id::text, '')
			  FROM job_attempts WHERE job_id = $1::uuid ORDER BY attempt`, id)
		if err != nil {
			return fmt.Errorf("scheduler: read the attempts of job %s: %w", id, err)
		}
		attempts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (historyAttempt, error) {
			var a historyAttempt
			err := row.Scan(&a.Attempt, &a.DispatchedAt, &a.StartedAt, &a.FinishedAt, &a.Outcome,
				&a.ErrorCode, &a.Error, &a.RetryAt, &a.DeadLetterID)
			return a, err
		})
		if err != nil {
			return fmt.Errorf("scheduler: read the attempts of job %s: %w", id, err)
		}
		rows, err = tx.Query(ctx, `
			SELECT dlq_id::text, retried_by, after_attempt, retried_at
			  FROM job_manual_retries WHERE job_id = $1::uuid ORDER BY after_attempt, retried_at`, id)
		if err != nil {
			return fmt.Errorf("scheduler: read the retries of job %s: %w", id, err)
		}
		retries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (manualRetry, error) {
			var r manualRetry
			err := row.Scan(&r.DLQID, &r.By, &r.AfterAttempt, &r.At)
			return r, err
		})
		if err != nil {
			return fmt.Errorf("scheduler: read the retries of job %s: %w", id, err)
		}
		h.Events = deriveHistory(j, attempts, retries)
		return nil
	})
	return h, err
}

// serveHistory is GET internalapi.PathJobHistory.
func (s *Service) serveHistory(w http.ResponseWriter, r *http.Request) {
	id, err := pathJobID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h, err := jobHistoryGet(r.Context(), s.pool, id)
	if errors.Is(err, errJobNotFound) {
		err = notFound(id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, h)
}

// attemptsText is "1 attempt" or "n attempts".
func attemptsText(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}
