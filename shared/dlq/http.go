package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalhttp"
	"github.com/jobweaver/jobweaver/shared/paging"
	"github.com/jobweaver/jobweaver/shared/pgdb"
)

// Entry is one dead letter as the internal routes show it.
type Entry struct {
	ID         string                    `json:"id"` // the job-dead-letter event ID
	JobID      string                    `json:"jobId,omitempty"`
	TraceID    string                    `json:"traceId"`
	JobType    string                    `json:"jobType,omitempty"`
	Reason     string                    `json:"reason"` // RETRIES_EXHAUSTED, PERMANENT_FAILURE, POISON_RECORD, MAPPING_FAILURE
	ErrorCode  string                    `json:"errorCode,omitempty"`
	LastError  string                    `json:"lastError,omitempty"`
	Job        *envelope.JobSpec         `json:"job,omitempty"` // jobType, payload, maxRetryCount
	Attempts   []envelope.AttemptSummary `json:"attempts"`
	Source     *envelope.PoisonSource    `json:"source,omitempty"`  // poison records and mapping failures
	Parked     *envelope.ParkedRow       `json:"parked,omitempty"`  // OUTBOX_PARKED: the outbox row the broker refused
	Trimmed    *envelope.Trimmed         `json:"trimmed,omitempty"` // what was cut for the dead letter to fit the broker
	Status     string                    `json:"status"`            // NEW; mapping failures: REPLAYED, PARTLY_REPLAYED
	FailedAt   *time.Time                `json:"failedAt,omitempty"`
	ReceivedAt time.Time                 `json:"receivedAt"`
}

// ErrNotFound is returned by Get for an unknown ID (as an *apierror.Error
// with code DLQ.ENTRY_NOT_FOUND).
var ErrNotFound = apierror.New(http.StatusNotFound, "DLQ.ENTRY_NOT_FOUND", "no dead-letter entry with this id")

const namespace = "DLQ"

func (s *Service) routes() http.Handler {
	return internalhttp.ReadOnly{
		Namespace: namespace,
		Get:       map[string]http.HandlerFunc{"/internal/dlq": s.list, "/internal/dlq/{id}": s.get},
		Health:    pgdb.HealthHandler(s.pool, s.log),
		Log:       s.log,
	}.Handler()
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) {
	req, err := paging.Parse(r.URL.Query(), min(DefaultPageSize, s.cfg.PageSizeMax), s.cfg.PageSizeMax, namespace)
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	page, err := s.List(r.Context(), req)
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	apierror.WriteJSON(w, http.StatusOK, page)
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	id, err := uuid.Parse(raw)
	if err != nil {
		apierror.Write(w, r, s.log, namespace, apierror.New(http.StatusBadRequest, "DLQ.INVALID_REQUEST",
			fmt.Sprintf("id must be a UUID (got %q)", raw)))
		return
	}
	e, err := s.Get(r.Context(), id.String())
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	apierror.WriteJSON(w, http.StatusOK, e)
}

const entryColumns = `event_id::text, coalesce(job_id::text, ''), trace_id, coalesce(job_type, ''), reason,
	coalesce(error_code, ''), coalesce(last_error, ''), job, attempts, source, status, failed_at, received_at, detail`

// List returns a page of entries, newest first.
func (s *Service) List(ctx context.Context, req paging.Request) (paging.Page[Entry], error) {
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM dead_letters`).Scan(&total); err != nil {
		return paging.Page[Entry]{}, fmt.Errorf("dlq: count entries: %w", err)
	}
	var list []Entry
	if total > int64(req.Offset()) {
		rows, err := s.pool.Query(ctx, `SELECT `+entryColumns+` FROM dead_letters
			ORDER BY received_at DESC, event_id LIMIT $1 OFFSET $2`, req.Size, req.Offset())
		if err != nil {
			return paging.Page[Entry]{}, fmt.Errorf("dlq: list entries: %w", err)
		}
		if list, err = pgx.CollectRows(rows, scanEntry); err != nil {
			return paging.Page[Entry]{}, fmt.Errorf("dlq: list entries: %w", err)
		}
	}
	return paging.New(list, req.Page, req.Size, total), nil
}

// Get returns the entry with event ID id, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (Entry, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+entryColumns+` FROM dead_letters WHERE event_id = $1::text::uuid`, id)
	if err != nil {
		return Entry{}, fmt.Errorf("dlq: get entry: %w", err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, scanEntry)
	if errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, ErrNotFound
	}
	if err != nil {
		return Entry{}, fmt.Errorf("dlq: get entry: %w", err)
	}
	return e, nil
}

func scanEntry(row pgx.CollectableRow) (Entry, error) {
	var (
		e                     Entry
		job, attempts, source []byte
		failedAt              *time.Time
		detail                []byte
	)
	if err := row.Scan(&e.ID, &e.JobID, &e.TraceID, &e.JobType, &e.Reason, &e.ErrorCode, &e.LastError,
		&job, &attempts, &source, &e.Status, &failedAt, &e.ReceivedAt, &detail); err != nil {
		return e, err
	}
	if len(detail) > 0 {
		var d rowDetail
		if err := json.Unmarshal(detail, &d); err != nil {
			return e, fmt.Errorf("entry %s: detail: %w", e.ID, err)
		}
		e.Parked, e.Trimmed = d.Parked, d.Trimmed
	}
	if len(job) > 0 {
		e.Job = new(envelope.JobSpec)
		if err := json.Unmarshal(job, e.Job); err != nil {
			return e, fmt.Errorf("entry %s: job: %w", e.ID, err)
		}
	}
	if len(attempts) > 0 {
		if err := json.Unmarshal(attempts, &e.Attempts); err != nil {
			return e, fmt.Errorf("entry %s: attempts: %w", e.ID, err)
		}
	}
	if e.Attempts == nil {
		e.Attempts = []envelope.AttemptSummary{}
	}
	if len(source) > 0 {
		e.Source = new(envelope.PoisonSource)
		if err := json.Unmarshal(source, e.Source); err != nil {
			return e, fmt.Errorf("entry %s: source: %w", e.ID, err)
		}
	}
	if failedAt != nil {
		t := failedAt.UTC()
		e.FailedAt = &t
	}
	e.ReceivedAt = e.ReceivedAt.UTC()
	return e, nil
}
