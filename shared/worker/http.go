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
// shows it: the contract's type, whose steps carry the outputs kept.
type Execution struct {
	internalapi.Execution
	Steps []ExecutionStep `json:"steps"`
}

// ExecutionStep is a step of an execution with its output, if kept.
// OutputOmitted says that the page's outputs passed MaxPageOutputBytes:
// ask for a smaller page to see it.
type ExecutionStep struct {
	envelope.StepResult
	ID            string          `json:"id,omitempty"`
	Output        json.RawMessage `json:"output,omitempty"`
	OutputOmitted bool            `json:"outputOmitted,omitempty"`
}

// MaxPageOutputBytes caps the step outputs one page of executions shows,
// so that it stays well under Lambda's 6 MB response limit.
const MaxPageOutputBytes = 4 << 20

const namespace = "WORKER"

func (s *Service) routes() http.Handler {
	return internalhttp.Routes{
		Namespace: namespace,
		Handlers: map[string]http.HandlerFunc{
			"GET " + internalapi.PathExecutions: s.listExecutions,
			"GET " + internalapi.PathStats:      s.serveStats,
			"GET " + internalapi.PathItems:      s.listItems,
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
				e.Steps = []ExecutionStep{}
			}
			e.StartedAt, e.FinishedAt = e.StartedAt.UTC(), e.FinishedAt.UTC()
			return e, err
		})
		if err != nil {
			return paging.Page[Execution]{}, fmt.Errorf("worker: list executions: %w", err)
		}
		if err := s.addOutputs(ctx, list); err != nil {
			return paging.Page[Execution]{}, err
		}
	}
	return paging.New(list, req.Page, req.Size, total), nil
}

// addOutputs fills in the kept outputs of the executions' steps, up to
// MaxPageOutputBytes in all; past it, a step's output is marked omitted.
func (s *Service) addOutputs(ctx context.Context, list []Execution) error {
	if len(list) == 0 {
		return nil
	}
	ids := make([]string, len(list))
	at := make(map[string]int, len(list))
	for i, e := range list {
		ids[i], at[e.EventID] = e.EventID, i
	}
	rows, err := s.pool.Query(ctx, `
		SELECT event_id::text, step_index, coalesce(step_id, ''), bytes,
		       CASE WHEN sum(bytes) OVER (ORDER BY o.ord, step_index) <= $2 THEN output::text END
		FROM step_outputs
		JOIN unnest($1::text[]) WITH ORDINALITY AS o(id, ord) ON o.id::uuid = event_id
		ORDER BY o.ord, step_index`, ids, MaxPageOutputBytes)
	if err != nil {
		return fmt.Errorf("worker: list step outputs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			eid, sid string
			idx, n   int
			out      *string
		)
		if err := rows.Scan(&eid, &idx, &sid, &n, &out); err != nil {
			return fmt.Errorf("worker: list step outputs: %w", err)
		}
		e := &list[at[eid]]
		if idx < 0 || idx >= len(e.Steps) {
			continue
		}
		st := &e.Steps[idx]
		st.ID = sid
		if out == nil {
			st.OutputOmitted = true
		} else {
			st.Output = json.RawMessage(*out)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("worker: list step outputs: %w", err)
	}
	return nil
}
