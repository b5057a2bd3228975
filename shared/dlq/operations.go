package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// Operation is a bulk operation's progress (the contract's type).
type Operation = internalapi.Operation

// ErrOperationNotFound is GetOperation's answer for an unknown ID.
var ErrOperationNotFound = apierror.New(http.StatusNotFound, "DLQ.OPERATION_NOT_FOUND", "no operation with this id")

// actionable are the statuses a kind of operation acts on.
func actionable(kind string) []string {
	if kind == internalapi.OperationRetry {
		return []string{StatusNew}
	}
	return dismissable
}

// CreateOperation records a bulk retry or dismiss and returns its ID; the
// maintenance route (Maintain) does the work, in chunks. An operation by
// IDs acts on those entries, in the order given (duplicates once); one by
// filter acts on the entries the filter matches that were received by now
// and that its kind applies to (a retry: NEW; a dismiss: NEW and
// PARTLY_REPLAYED), newest first. A bad request is a 400
// DLQ.INVALID_REQUEST whose details name the field.
func (s *Service) CreateOperation(ctx context.Context, req internalapi.OperationRequest) (string, error) {
	ids, err := checkOperation(&req)
	if err != nil {
		return "", err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("dlq: operation id: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return "", fmt.Errorf("dlq: create operation: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var snapshot time.Time
	if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&snapshot); err != nil {
		return "", fmt.Errorf("dlq: create operation: %w", err)
	}
	total := len(ids)
	var filter []byte
	if req.Filter != nil {
		filter, _ = json.Marshal(req.Filter)
		cond, args := where(*req.Filter, 3)
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM dead_letters WHERE status = ANY($1) AND received_at <= $2 AND `+cond,
			append([]any{actionable(req.Kind), snapshot}, args...)...).Scan(&total); err != nil {
			return "", fmt.Errorf("dlq: count the operation's entries: %w", err)
		}
	}
	status, finished := internalapi.OperationRunning, (*time.Time)(nil)
	if total == 0 {
		status, finished = internalapi.OperationCompleted, &snapshot
	}
	if _, err := tx.Exec(ctx, `INSERT INTO operations (id, kind, status, filter, ids, snapshot_at, requested_by, total, started_at, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6, $9)`, id, req.Kind, status, filter, ids, snapshot, req.By, total, finished); err != nil {
		return "", fmt.Errorf("dlq: create operation: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("dlq: create operation: %w", err)
	}
	s.log.InfoContext(ctx, "bulk operation created", "operationId", id.String(), "kind", req.Kind, "total", total, "by", req.By)
	return id.String(), nil
}

// checkOperation validates a request and returns its IDs, canonical and
// without duplicates (nil for a filter).
func checkOperation(req *internalapi.OperationRequest) ([]string, error) {
	bad := func(field, problem string) error {
		e := apierror.New(http.StatusBadRequest, "DLQ.INVALID_REQUEST", field+": "+problem)
		e.Details = []string{field + ": " + problem}
		return e
	}
	if req.Kind != internalapi.OperationRetry && req.Kind != internalapi.OperationDismiss {
		return nil, bad("kind", fmt.Sprintf("must be %s or %s", internalapi.OperationRetry, internalapi.OperationDismiss))
	}
	switch {
	case req.IDs == nil && req.Filter == nil:
		return nil, bad("ids", "give ids (a list of entry IDs) or filter, not neither")
	case req.IDs != nil && req.Filter != nil:
		return nil, bad("ids", "give ids or filter, not both")
	case req.Filter != nil:
		if err := req.Filter.Check(); err != nil {
			var fe *internalapi.FilterError
			if errors.As(err, &fe) {
				return nil, bad("filter."+fe.Field, fe.Problem)
			}
			return nil, bad("filter", err.Error())
		}
		if st := req.Filter.Status; st != "" && !slices.Contains(actionable(req.Kind), st) {
			return nil, bad("filter.status", fmt.Sprintf("a %s acts only on entries that are %v (got %s)", req.Kind, actionable(req.Kind), st))
		}
		return nil, nil
	}
	if len(req.IDs) == 0 || len(req.IDs) > internalapi.MaxOperationIDs {
		return nil, bad("ids", fmt.Sprintf("must list 1 to %d entry IDs (got %d)", internalapi.MaxOperationIDs, len(req.IDs)))
	}
	ids := make([]string, 0, len(req.IDs))
	seen := make(map[string]bool, len(req.IDs))
	for i, raw := range req.IDs {
		u, err := uuid.Parse(raw)
		if err != nil {
			return nil, bad(fmt.Sprintf("ids[%d]", i), fmt.Sprintf("must be a UUID (got %.60q)", raw))
		}
		if id := u.String(); !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// GetOperation returns an operation's progress, or ErrOperationNotFound.
func (s *Service) GetOperation(ctx context.Context, id string) (Operation, error) {
	var op Operation
	err := s.pool.QueryRow(ctx, `SELECT id::text, kind, status, total, done, failed, started_at, finished_at
		FROM operations WHERE id = $1::text::uuid`, id).Scan(&op.OperationID, &op.Kind, &op.Status, &op.Total, &op.Done, &op.Failed, &op.StartedAt, &op.FinishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return op, ErrOperationNotFound
	}
	if err != nil {
		return op, fmt.Errorf("dlq: get operation: %w", err)
	}
	op.StartedAt = op.StartedAt.UTC()
	if op.FinishedAt != nil {
		t := op.FinishedAt.UTC()
		op.FinishedAt = &t
	}
	return op, nil
}

// opRow is a running operation as a chunk reads it.
type opRow struct {
	id, kind, by string
	filter       *Filter
	ids          []string
	snapshot     time.Time
	done, failed int
	cursorAt     *time.Time
	cursorID     *string
	cursorIdx    int
}

// RunChunk does one chunk of the oldest running operation that no other
// call is working on: up to ChunkSize entries (RetryChunkSize for a
// retry, each a call to the scheduler, stopping early at deadline), in
// one transaction with the operation's progress and cursor, so that a
// crash resumes after the last committed chunk. It reports whether it
// found an operation to work on and whether that operation finished.
func (s *Service) RunChunk(ctx context.Context, deadline time.Time) (ran, finished bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, false, fmt.Errorf("dlq: operation chunk: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var (
		op     opRow
		filter []byte
	)
	err = tx.QueryRow(ctx, `SELECT id::text, kind, requested_by, filter, coalesce(ids::text[], '{}'), snapshot_at, done, failed,
			cursor_at, cursor_id::text, cursor_idx
		FROM operations WHERE status = 'RUNNING' ORDER BY started_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`).
		Scan(&op.id, &op.kind, &op.by, &filter, &op.ids, &op.snapshot, &op.done, &op.failed, &op.cursorAt, &op.cursorID, &op.cursorIdx)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("dlq: operation chunk: %w", err)
	}
	if len(filter) > 0 {
		op.filter = new(Filter)
		if err := json.Unmarshal(filter, op.filter); err != nil {
			return true, false, fmt.Errorf("dlq: operation %s: filter: %w", op.id, err)
		}
	}
	n := s.cfg.ChunkSize
	if op.kind == internalapi.OperationRetry {
		n = s.cfg.RetryChunkSize
	}
	var (
		done, failed int
		exhausted    bool
		lastErr      string
	)
	if op.filter == nil {
		done, failed, exhausted, lastErr, err = s.chunkByIDs(ctx, tx, &op, n, deadline)
	} else {
		done, failed, exhausted, lastErr, err = s.chunkByFilter(ctx, tx, &op, n, deadline)
	}
	if err != nil {
		return true, false, err
	}
	op.done, op.failed = op.done+done, op.failed+failed
	status := internalapi.OperationRunning
	if exhausted {
		status = internalapi.OperationCompleted
		if op.done == 0 && op.failed > 0 {
			status = internalapi.OperationFailed
		}
	}
	// A finished operation by filter counts what it found: entries
	// resolved by others meanwhile are no longer its to act on.
	if _, err := tx.Exec(ctx, `UPDATE operations SET done = $2::int, failed = $3::int, cursor_at = $4, cursor_id = $5::text::uuid, cursor_idx = $6,
			status = $7::text, updated_at = now(), last_error = coalesce(nullif($8::text, ''), last_error),
			finished_at = CASE WHEN $7::text <> 'RUNNING' THEN now() END,
			total = CASE WHEN $7::text <> 'RUNNING' AND filter IS NOT NULL THEN $2::int + $3::int ELSE total END
		WHERE id = $1::text::uuid`, op.id, op.done, op.failed, op.cursorAt, op.cursorID, op.cursorIdx, status, lastErr); err != nil {
		return true, false, fmt.Errorf("dlq: operation %s: progress: %w", op.id, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return true, false, fmt.Errorf("dlq: operation %s: commit chunk: %w", op.id, err)
	}
	if exhausted {
		s.log.InfoContext(ctx, "bulk operation finished", "operationId", op.id, "kind", op.kind, "status", status, "done", op.done, "failed", op.failed)
	}
	return true, exhausted, nil
}

// chunkByIDs acts on the next IDs of op and moves its cursor past them.
func (s *Service) chunkByIDs(ctx context.Context, tx pgx.Tx, op *opRow, n int, deadline time.Time) (done, failed int, exhausted bool, lastErr string, err error) {
	end := min(op.cursorIdx+n, len(op.ids))
	batch := op.ids[op.cursorIdx:end]
	if op.kind == internalapi.OperationDismiss {
		tag, err := tx.Exec(ctx, `UPDATE dead_letters SET status = $2, resolved_at = now(), resolved_by = $3
			WHERE event_id = ANY($1::text[]::uuid[]) AND status = ANY($4)`, batch, StatusDismissed, op.by, dismissable)
		if err != nil {
			return 0, 0, false, "", fmt.Errorf("dlq: operation %s: dismiss: %w", op.id, err)
		}
		done = int(tag.RowsAffected())
		op.cursorIdx = end
		return done, len(batch) - done, end == len(op.ids), "", nil
	}
	for _, id := range batch {
		ok, why, err := s.retryInChunk(ctx, tx, id, op.by)
		if err != nil {
			if done+failed > 0 {
				break // commit what was done; the next chunk tries again
			}
			return 0, 0, false, "", err
		}
		if ok {
			done++
		} else {
			failed++
			lastErr = why
		}
		op.cursorIdx++
		if !time.Now().Before(deadline) {
			break
		}
	}
	return done, failed, op.cursorIdx >= len(op.ids), lastErr, nil
}

// chunkByFilter acts on the next entries op's filter matches, newest
// first, and moves its cursor to the last of them.
func (s *Service) chunkByFilter(ctx context.Context, tx pgx.Tx, op *opRow, n int, deadline time.Time) (done, failed int, exhausted bool, lastErr string, err error) {
	cond, args := where(*op.filter, 6)
	q := `SELECT event_id::text, received_at FROM dead_letters
		WHERE status = ANY($1) AND received_at <= $2 AND (received_at, event_id) < ($3, $4::uuid) AND ` + cond + `
		ORDER BY received_at DESC, event_id DESC LIMIT $5 FOR UPDATE`
	after, afterID := op.snapshot.Add(time.Microsecond), "ffffffff-ffff-ffff-ffff-ffffffffffff"
	if op.cursorAt != nil && op.cursorID != nil {
		after, afterID = *op.cursorAt, *op.cursorID
	}
	rows, err := tx.Query(ctx, q, append([]any{actionable(op.kind), op.snapshot, after, afterID, n}, args...)...)
	if err != nil {
		return 0, 0, false, "", fmt.Errorf("dlq: operation %s: select chunk: %w", op.id, err)
	}
	type cand struct {
		id string
		at time.Time
	}
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (cand, error) {
		var c cand
		return c, r.Scan(&c.id, &c.at)
	})
	if err != nil {
		return 0, 0, false, "", fmt.Errorf("dlq: operation %s: select chunk: %w", op.id, err)
	}
	exhausted = len(cands) < n
	move := func(c cand) { op.cursorAt, op.cursorID = &c.at, &c.id }
	if op.kind == internalapi.OperationDismiss {
		ids := make([]string, len(cands))
		for i, c := range cands {
			ids[i] = c.id
		}
		tag, err := tx.Exec(ctx, `UPDATE dead_letters SET status = $2, resolved_at = now(), resolved_by = $3
			WHERE event_id = ANY($1::text[]::uuid[])`, ids, StatusDismissed, op.by)
		if err != nil {
			return 0, 0, false, "", fmt.Errorf("dlq: operation %s: dismiss: %w", op.id, err)
		}
		if len(cands) > 0 {
			move(cands[len(cands)-1])
		}
		return int(tag.RowsAffected()), 0, exhausted, "", nil
	}
	for i, c := range cands {
		ok, why, err := s.retryInChunk(ctx, tx, c.id, op.by)
		if err != nil {
			if done+failed > 0 {
				return done, failed, false, lastErr, nil // commit what was done
			}
			return 0, 0, false, "", err
		}
		if ok {
			done++
		} else {
			failed++
			lastErr = why
		}
		move(c)
		if i < len(cands)-1 && !time.Now().Before(deadline) {
			return done, failed, false, lastErr, nil
		}
	}
	return done, failed, exhausted, lastErr, nil
}

// retryInChunk retries one entry inside a chunk's transaction (a
// savepoint). An entry the retry does not apply to (gone, not NEW, not
// retryable) is a failure of the operation (ok false, why); an
// unavailable scheduler is an error that ends the chunk.
func (s *Service) retryInChunk(ctx context.Context, tx pgx.Tx, id, by string) (ok bool, why string, err error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return false, "", err
	}
	defer sp.Rollback(context.WithoutCancel(ctx))
	_, err = s.retryLocked(ctx, sp, id, by)
	var ae *apierror.Error
	switch {
	case err == nil:
		return true, "", sp.Commit(ctx)
	case errors.As(err, &ae) && ae.Status < 500:
		return false, ae.Message, nil
	}
	return false, "", err
}
