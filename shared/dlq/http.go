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
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/internalhttp"
	"github.com/jobweaver/jobweaver/shared/paging"
	"github.com/jobweaver/jobweaver/shared/pgdb"
)

// Entry is one dead letter as the internal routes show it (the contract's
// type).
type Entry = internalapi.DeadLetter

// ErrNotFound is returned by Get for an unknown ID (as an *apierror.Error
// with code DLQ.ENTRY_NOT_FOUND).
var ErrNotFound = apierror.New(http.StatusNotFound, "DLQ.ENTRY_NOT_FOUND", "no dead-letter entry with this id")

const namespace = "DLQ"

func (s *Service) routes() http.Handler {
	return internalhttp.Routes{
		Namespace: namespace,
		Handlers: map[string]http.HandlerFunc{
			"GET " + internalapi.PathDeadLetters: s.list,
			"GET " + internalapi.PathDeadLetter:  s.get,

			"POST " + internalapi.PathDeadLetterRetry:   s.retry,
			"POST " + internalapi.PathDeadLetterDismiss: s.dismiss,
			"POST " + internalapi.PathOperations:        s.createOperation,
			"GET " + internalapi.PathOperation:          s.getOperation,
			"POST " + internalapi.PathMaintain:          s.maintain,
		},
		Health: pgdb.HealthHandler(s.pool, s.log),
		Log:    s.log,
	}.Handler()
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) {
	f, err := internalapi.ParseDLQFilter(r.URL.Query())
	if err != nil {
		apierror.Write(w, r, s.log, namespace, invalid(err))
		return
	}
	req, err := paging.Parse(r.URL.Query(), min(internalapi.DefaultPageSize, s.cfg.PageSizeMax), s.cfg.PageSizeMax, namespace)
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	after, err := paging.ParseCursor(r.URL.Query(), namespace)
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	page, err := s.ListFiltered(r.Context(), f, req, after)
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	httpjson.Write(w, http.StatusOK, page)
}

// invalid is a bad request's error: a *internalapi.FilterError or any
// other error, as DLQ.INVALID_REQUEST.
func invalid(err error) error {
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return err
	}
	return apierror.New(http.StatusBadRequest, "DLQ.INVALID_REQUEST", err.Error())
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
	httpjson.Write(w, http.StatusOK, e)
}

const entryColumns = `event_id::text, coalesce(job_id::text, ''), trace_id, coalesce(job_type, ''), reason,
	coalesce(error_code, ''), coalesce(last_error, ''), job, attempts, source, status, failed_at, received_at, detail,
	resolved_at, coalesce(resolved_by, ''), retried_attempt`

// MaxListTextLen is how many characters of an error a list entry keeps.
const MaxListTextLen = 256

// listColumns are entryColumns for a list: the job without its payload
// and the source without its raw value (GET /internal/dlq/{id} has them),
// and whether anything was left out.
const listColumns = `event_id::text, coalesce(job_id::text, ''), trace_id, coalesce(job_type, ''), reason,
	coalesce(error_code, ''), coalesce(last_error, ''), job - 'payload', attempts, source - 'value', status, failed_at, received_at, detail,
	resolved_at, coalesce(resolved_by, ''), retried_attempt,
	coalesce(job ? 'payload', false) OR coalesce(source ? 'value', false)`

// List returns a page of entries, newest first (ties by event ID).
func (s *Service) List(ctx context.Context, req paging.Request) (paging.Page[Entry], error) {
	return s.ListAfter(ctx, req, nil)
}

// ListAfter returns a page of entry summaries, newest first (ties by event
// ID): from req's offset, or after the cursor when it is not nil (see
// ListFiltered).
func (s *Service) ListAfter(ctx context.Context, req paging.Request, after *paging.Cursor) (paging.Page[Entry], error) {
	return s.ListFiltered(ctx, Filter{}, req, after)
}

// ListFiltered returns a page of the entry summaries f matches, newest
// first (ties by event ID): from req's offset, or after the cursor when it
// is not nil. Entries carry no job payload or raw record value, their
// errors are cut to MaxListTextLen characters (Truncated says so), and a
// page is cut short at paging.MaxPageBytes of JSON; NextCursor continues
// after its last entry. The total is exact up to paging.CountCap, else an
// estimate. Every filter is served by an index (migration 00005).
func (s *Service) ListFiltered(ctx context.Context, f Filter, req paging.Request, after *paging.Cursor) (paging.Page[Entry], error) {
	cond, args := where(f, 1)
	total, estimate, err := paging.Count(ctx, s.pool, countFrom(cond), args, paging.CountCap)
	if err != nil {
		return paging.Page[Entry]{}, fmt.Errorf("dlq: %w", err)
	}
	var list []Entry
	more := false
	if estimate || after != nil || total > int64(req.Offset()) {
		sql := listSQL(cond, len(args), after != nil)
		qargs := append(append([]any(nil), args...), req.Size+1)
		if after != nil {
			qargs = append(qargs, after.Time, after.ID)
		} else {
			qargs = append(qargs, req.Offset())
		}
		rows, err := s.pool.Query(ctx, sql, qargs...)
		if err != nil {
			return paging.Page[Entry]{}, fmt.Errorf("dlq: list entries: %w", err)
		}
		if list, err = pgx.CollectRows(rows, scanSummary); err != nil {
			return paging.Page[Entry]{}, fmt.Errorf("dlq: list entries: %w", err)
		}
		if more = len(list) > req.Size; more {
			list = list[:req.Size]
		}
		if n := paging.Fit(list, paging.MaxPageBytes); n < len(list) {
			list, more = list[:n], true
		}
	}
	page := paging.New(list, req.Page, req.Size, total)
	page.TotalIsEstimate = estimate
	if more && len(list) > 0 {
		last := list[len(list)-1]
		page.NextCursor = paging.Cursor{Time: last.ReceivedAt, ID: last.ID}.Encode()
	}
	return page, nil
}

// countFrom is what paging.Count counts for the conditions cond: the
// matching rows in the list's order, so that the capped count reads an
// index range (at most CountCap+1 entries) rather than the table, however
// broad the filter.
func countFrom(cond string) string {
	return "dead_letters WHERE " + cond + " ORDER BY received_at DESC, event_id DESC"
}

// listSQL is the list's query for the conditions cond (with n arguments):
// its limit is $n+1, then either its offset ($n+2) or, with a cursor, the
// cursor's time and ID ($n+2, $n+3).
func listSQL(cond string, n int, cursor bool) string {
	if cursor {
		return fmt.Sprintf(`SELECT `+listColumns+` FROM dead_letters WHERE %s AND (received_at, event_id) < ($%d, $%d::uuid)
			ORDER BY received_at DESC, event_id DESC LIMIT $%d`, cond, n+2, n+3, n+1)
	}
	return fmt.Sprintf(`SELECT `+listColumns+` FROM dead_letters WHERE %s
		ORDER BY received_at DESC, event_id DESC LIMIT $%d OFFSET $%d`, cond, n+1, n+2)
}

// scanSummary scans a row of listColumns and cuts its errors.
func scanSummary(row pgx.CollectableRow) (Entry, error) {
	var omitted bool
	e, err := scanEntryInto(row, &omitted)
	if err != nil {
		return e, err
	}
	cut := func(s *string) {
		if r := []rune(*s); len(r) > MaxListTextLen {
			*s, e.Truncated = string(r[:MaxListTextLen]), true
		}
	}
	cut(&e.LastError)
	for i := range e.Attempts {
		cut(&e.Attempts[i].Error)
	}
	e.Truncated = e.Truncated || omitted
	return e, nil
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

func scanEntry(row pgx.CollectableRow) (Entry, error) { return scanEntryInto(row) }

// scanEntryInto scans entryColumns, then any extra columns into extra.
func scanEntryInto(row pgx.CollectableRow, extra ...any) (Entry, error) {
	var (
		e                     Entry
		job, attempts, source []byte
		failedAt              *time.Time
		detail                []byte
		resolvedAt            *time.Time
	)
	if err := row.Scan(append([]any{&e.ID, &e.JobID, &e.TraceID, &e.JobType, &e.Reason, &e.ErrorCode, &e.LastError,
		&job, &attempts, &source, &e.Status, &failedAt, &e.ReceivedAt, &detail,
		&resolvedAt, &e.ResolvedBy, &e.RetriedJobAttempt}, extra...)...); err != nil {
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
	if resolvedAt != nil {
		t := resolvedAt.UTC()
		e.ResolvedAt = &t
	}
	e.ReceivedAt = e.ReceivedAt.UTC()
	return e, nil
}
