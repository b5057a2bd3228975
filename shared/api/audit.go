package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/paging"
)

// AuditEntry is one recorded action in GET /api/audit.
type AuditEntry struct {
	ID     string          `json:"id"`
	At     time.Time       `json:"at"`
	Caller string          `json:"caller"`
	Action string          `json:"action"`
	Target string          `json:"target"`
	Detail json.RawMessage `json:"detail"`
}

// maxAuditFilterLen bounds the text filters of GET /api/audit.
const maxAuditFilterLen = 200

// listAudit is GET /api/audit (admin): who did what, newest first, as a
// page (page or cursor, size), filtered by caller, action, target (exact)
// and from/to (RFC 3339, at within [from, to)).
func (s *Service) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	pr, err := paging.Parse(q, s.cfg.DefaultPageSize, s.cfg.PageSizeMax, namespace)
	if err != nil {
		return err
	}
	after, err := paging.ParseCursor(q, namespace)
	if err != nil {
		return err
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	for _, col := range []string{"caller", "action", "target"} {
		if v := q.Get(col); v != "" {
			if len(v) > maxAuditFilterLen {
				return badRequest("%s must be at most %d bytes", col, maxAuditFilterLen)
			}
			where = append(where, col+" = "+arg(v))
		}
	}
	for _, b := range []struct{ name, op string }{{"from", ">="}, {"to", "<"}} {
		if v := q.Get(b.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return badRequest("%s must be an RFC 3339 time (got %q)", b.name, v)
			}
			where = append(where, "at "+b.op+" "+arg(t))
		}
	}
	from := "audit"
	if len(where) > 0 {
		from += " WHERE " + strings.Join(where, " AND ")
	}
	ctx := r.Context()
	total, estimate, err := paging.Count(ctx, s.pool, from, args, paging.CountCap)
	if err != nil {
		return err
	}
	page := from
	if after != nil {
		c := "(at, id) < (" + arg(after.Time) + ", " + arg(after.ID) + "::uuid)"
		if len(where) > 0 {
			page += " AND " + c
		} else {
			page += " WHERE " + c
		}
	}
	sql := `SELECT id, at, caller, action, target, detail FROM ` + page + ` ORDER BY at DESC, id DESC LIMIT ` + arg(pr.Size+1)
	if after == nil {
		sql += ` OFFSET ` + arg(pr.Offset())
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("list the audit: %w", err)
	}
	defer rows.Close()
	var items []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var id uuid.UUID
		if err := rows.Scan(&id, &e.At, &e.Caller, &e.Action, &e.Target, &e.Detail); err != nil {
			return err
		}
		e.ID, e.At = id.String(), e.At.UTC()
		items = append(items, e)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	more := len(items) > pr.Size
	if more {
		items = items[:pr.Size]
	}
	if n := paging.Fit(items, paging.MaxPageBytes); n < len(items) {
		items, more = items[:n], true
	}
	out := paging.New(items, pr.Page, pr.Size, total)
	out.TotalIsEstimate = estimate
	if more && len(items) > 0 {
		last := items[len(items)-1]
		out.NextCursor = paging.Cursor{Time: last.At, ID: last.ID}.Encode()
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// The audited actions besides the keys' (key.create, key.revoke). A
// submission's row (job.submit, job.batch) commits in the statement that
// stores the jobs, so an accepted job always has one and an idempotent
// replay adds none. A cancel's and a dead-letter action's row is written
// by the api after the scheduler or dlq function has done it (they are
// other functions, with their own databases): a crash between the two, or
// a failed audit write, leaves a done action unaudited (the failure is
// logged as an error). The scheduler's history (a cancel's by) and the
// dlq's entries and operations (by) still name the caller.
const (
	ActionJobSubmit      = "job.submit"
	ActionJobBatch       = "job.batch"
	ActionJobCancel      = "job.cancel"
	ActionDLQRetry       = "dlq.retry"
	ActionDLQDismiss     = "dlq.dismiss"
	ActionDLQBulkRetry   = "dlq.bulk-retry"
	ActionDLQBulkDismiss = "dlq.bulk-dismiss"
)

// newAuditID is a time-ordered ID for an audit row.
func newAuditID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New()
	}
	return id
}

// auditDone records an action another function has done: its own
// statement, after the fact. A failure is logged, not returned: the
// action happened, and its answer must say so.
func (s *Service) auditDone(ctx context.Context, caller, action, target string, detail map[string]any) {
	if detail == nil {
		detail = map[string]any{}
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if _, err := s.pool.Exec(actx, `INSERT INTO audit (id, caller, action, target, detail) VALUES ($1, $2, $3, $4, $5)`,
		newAuditID(), caller, action, target, detail); err != nil {
		s.log.ErrorContext(ctx, "the action was done but its audit row could not be written",
			"action", action, "target", target, "caller", caller, "error", err.Error())
	}
}

// auditTimeout bounds auditDone's write.
const auditTimeout = 5 * time.Second
