package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/outbox"
)

// finished returns which of the tasks' run-job event IDs already have an
// execution: one query for the whole batch.
func (s *Service) finished(ctx context.Context, tasks []*task) (map[string]bool, error) {
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.eventID
	}
	rows, err := s.pool.Query(ctx, `SELECT event_id::text FROM executions WHERE event_id = ANY($1::text[]::uuid[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("worker: look up finished attempts: %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("worker: look up finished attempts: %w", err)
	}
	out := make(map[string]bool, len(done))
	for _, id := range done {
		out[id] = true
	}
	return out, nil
}

const insertExecutions = `
INSERT INTO executions (event_id, job_id, attempt, trace_id, status, started_at, finished_at,
                        duration_ms, error_code, error, steps)
SELECT e::uuid, j::uuid, a, t, st, sa, fa, d, NULLIF(ec, ''), NULLIF(er, ''), s::jsonb
FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::timestamptz[],
            $7::timestamptz[], $8::bigint[], $9::text[], $10::text[], $11::text[])
     AS r(e, j, a, t, st, sa, fa, d, ec, er, s)
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id::text`

// record writes, in one transaction, an executions row per attempt, the
// result events of the rows that went in (a racing delivery that inserted
// first keeps its own), and the poison records' dead letters. It returns
// the events it committed to the outbox and their rows' IDs, for
// Relay.Publish.
func (s *Service) record(ctx context.Context, tasks []*task, outs []outcome, poison []envelope.Envelope) (*committed, error) {
	if len(tasks) == 0 && len(poison) == 0 {
		return nil, nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("worker: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	envs := poison
	if len(tasks) > 0 {
		n := len(tasks)
		var (
			eventIDs  = make([]string, n)
			jobIDs    = make([]string, n)
			attempts  = make([]int32, n)
			traceIDs  = make([]string, n)
			statuses  = make([]string, n)
			started   = make([]time.Time, n)
			finished  = make([]time.Time, n)
			durations = make([]int64, n)
			codes     = make([]string, n)
			errs      = make([]string, n)
			steps     = make([]string, n)
		)
		for i, t := range tasks {
			r := outs[i].result
			sb, _ := envelope.JSON(r.Steps) // plain values only
			eventIDs[i], jobIDs[i], attempts[i], traceIDs[i] = t.eventID, t.jobID, int32(r.Attempt), t.traceID
			statuses[i], started[i], finished[i], durations[i] = outs[i].status, r.StartedAt, r.FinishedAt, r.DurationMs
			codes[i], errs[i], steps[i] = r.ErrorCode, r.Error, string(sb)
		}
		rows, err := tx.Query(ctx, insertExecutions, eventIDs, jobIDs, attempts, traceIDs, statuses,
			started, finished, durations, codes, errs, steps)
		if err != nil {
			return nil, fmt.Errorf("worker: insert executions: %w", err)
		}
		ins, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("worker: insert executions: %w", err)
		}
		inserted := make(map[string]bool, len(ins))
		for _, id := range ins {
			inserted[id] = true
		}
		if err := insertOutputs(ctx, tx, tasks, outs, inserted); err != nil {
			return nil, err
		}
		if err := insertLastCheckpoints(ctx, tx, tasks, outs, inserted); err != nil {
			return nil, err
		}
		envs = make([]envelope.Envelope, 0, len(poison)+len(ins))
		envs = append(envs, poison...)
		for i, t := range tasks {
			if !inserted[t.eventID] {
				continue // another delivery of this run-job finished first
			}
			envs = append(envs, resultEvent(t, outs[i]))
		}
	}
	ids, err := outbox.Insert(ctx, tx, envs...)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("worker: commit: %w", err)
	}
	return &committed{ids: ids, envs: envs}, nil
}

// committed are events a commit wrote to the outbox, with their rows' IDs.
type committed struct {
	ids  []int64
	envs []envelope.Envelope
}

// resultEvent is the job-completed or job-failed event of an attempt.
func resultEvent(t *task, o outcome) envelope.Envelope {
	typ := envelope.TypeJobCompleted
	if o.status != StatusCompleted { // failed, yielded or parked
		typ = envelope.TypeJobFailed
	}
	p, _ := envelope.JSON(o.result) // plain values only
	return envelope.Envelope{
		EventID: ResultEventID(t.eventID),
		Type:    typ,
		Version: envelope.Version,
		Time:    o.result.FinishedAt.UTC(),
		TraceID: t.traceID,
		JobID:   t.jobID,
		Payload: p,

		TraceParent: t.traceparent,
	}
}

const insertStepOutputs = `
INSERT INTO step_outputs (event_id, step_index, job_id, step_id, output, bytes)
SELECT e::uuid, i, j::uuid, NULLIF(s, ''), o::jsonb, length(o)
FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[]) AS r(e, i, j, s, o)`

// insertOutputs writes the kept step outputs of the attempts whose
// executions row went in.
func insertOutputs(ctx context.Context, tx pgx.Tx, tasks []*task, outs []outcome, inserted map[string]bool) error {
	var eventIDs, jobIDs, stepIDs, outputs []string
	var idx []int32
	for i, t := range tasks {
		if !inserted[t.eventID] {
			continue
		}
		for _, o := range outs[i].outputs {
			eventIDs = append(eventIDs, t.eventID)
			idx = append(idx, int32(o.index))
			jobIDs = append(jobIDs, t.jobID)
			stepIDs = append(stepIDs, o.id)
			outputs = append(outputs, string(o.output))
		}
	}
	if len(eventIDs) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, insertStepOutputs, eventIDs, idx, jobIDs, stepIDs, outputs); err != nil {
		return fmt.Errorf("worker: insert step outputs: %w", err)
	}
	return nil
}
