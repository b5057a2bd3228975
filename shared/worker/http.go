package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

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

// Execution is one finished attempt as GET /internal/executions/{jobId}
// shows it (the contract's type).
type Execution = internalapi.Execution

const namespace = "WORKER"

func (s *Service) routes() http.Handler {
	return internalhttp.Routes{
		Namespace: namespace,
		Handlers: map[string]http.HandlerFunc{
			"GET " + internalapi.PathExecutions: s.listExecutions,
			"GET " + internalapi.PathStats:      s.serveStats,
		},
		Health: pgdb.HealthHandler(s.pool, s.log),
		Log:    s.log,
	}.Handler()
}

func (s *Service) listExecutions(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("jobId")
	id, err := uuid.Parse(raw)
	if err != nil {
		apierror.Write(w, r, s.log, namespace, apierror.New(http.StatusBadRequest, "WORKER.INVALID_REQUEST",
			fmt.Sprintf("jobId must be a UUID (got %q)", raw)))
		return
	}
	req, err := paging.Parse(r.URL.Query(), min(internalapi.DefaultPageSize, s.cfg.PageSizeMax), s.cfg.PageSizeMax, namespace)
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	page, err := s.Executions(r.Context(), id.String(), req)
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	httpjson.Write(w, http.StatusOK, page)
}

// Executions returns a page of a job's finished attempts, oldest attempt
// first. An unknown job gives an empty page.
func (s *Service) Executions(ctx context.Context, jobID string, req paging.Request) (paging.Page[Execution], error) {
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM executions WHERE job_id = $1::text::uuid`, jobID).Scan(&total); err != nil {
		return paging.Page[Execution]{}, fmt.Errorf("worker: count executions: %w", err)
	}
	var list []Execution
	if total > int64(req.Offset()) {
		rows, err := s.pool.Query(ctx, `
			SELECT event_id::text, job_id::text, attempt, trace_id, status, started_at, finished_at,
			       duration_ms, coalesce(error_code, ''), coalesce(error, ''), steps
			FROM executions WHERE job_id = $1::text::uuid
			ORDER BY attempt, finished_at, event_id
			LIMIT $2 OFFSET $3`, jobID, req.Size, req.Offset())
		if err != nil {
			return paging.Page[Execution]{}, fmt.Errorf("worker: list executions: %w", err)
		}
		list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Execution, error) {
			var (
				e     Execution
				steps []byte
			)
			err := row.Scan(&e.EventID, &e.JobID, &e.Attempt, &e.TraceID, &e.Status, &e.StartedAt, &e.FinishedAt,
				&e.DurationMs, &e.ErrorCode, &e.Error, &steps)
			if err == nil {
				err = json.Unmarshal(steps, &e.Steps)
			}
			if e.Steps == nil {
				e.Steps = []envelope.StepResult{}
			}
			e.StartedAt, e.FinishedAt = e.StartedAt.UTC(), e.FinishedAt.UTC()
			return e, err
		})
		if err != nil {
			return paging.Page[Execution]{}, fmt.Errorf("worker: list executions: %w", err)
		}
	}
	return paging.New(list, req.Page, req.Size, total), nil
}
