package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/jobspec"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/strictjson"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// MaxBatchJobs caps the jobs of one POST /api/jobs/batch.
const MaxBatchJobs = 1000

// BatchAccepted answers POST /api/jobs/batch: one entry per submitted job,
// in order.
type BatchAccepted struct {
	Jobs []Accepted `json:"jobs"`
}

// submitBatch is POST /api/jobs/batch: {"jobs": [submission, ...]}. All
// or nothing: one invalid job rejects the batch, naming it by index, and
// the jobs, their events and the batch's idempotency key commit in one
// transaction. The jobs share the request's trace ID. An Idempotency-Key
// names the batch (in a namespace of its own, per caller, see
// createBatch): the caller's repeat returns the same job IDs.
func (s *Service) submitBatch(w http.ResponseWriter, r *http.Request) error {
	if err := checkJSON(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	key := strings.TrimSpace(r.Header.Get(IdempotencyKeyHeader))
	if len(key) > MaxIdempotencyKeyLen {
		return badRequest("%s must be at most %d characters (got %d)", IdempotencyKeyHeader, MaxIdempotencyKeyLen, len(key))
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	raws, err := decodeBatch(body)
	if err != nil {
		return err
	}
	jobs := make([]jobspec.Job, len(raws))
	var problems []string
	for i, raw := range raws {
		job, err := jobspec.Decode(raw, jobspec.Default)
		var je *jobspec.Error
		switch {
		case errors.As(err, &je):
			for _, p := range je.Problems {
				problems = append(problems, fmt.Sprintf("jobs[%d].%s", i, p))
			}
		case err != nil:
			return err
		default:
			if err := checkSize(job, i); err != nil {
				return err
			}
		}
		jobs[i] = job
	}
	if len(problems) > 0 {
		e := badRequest("invalid batch (nothing was stored): %s", strings.Join(problems, "; "))
		e.Details = problems
		return e
	}

	ctx := r.Context()
	subs, pub, err := createBatch(ctx, s.pool, jobs, key, trace.TraceID(ctx), auth.CallerOf(ctx).ID)
	if err != nil {
		return err
	}
	out := BatchAccepted{Jobs: make([]Accepted, len(subs))}
	for i, sub := range subs {
		out.Jobs[i] = Accepted{JobID: sub.ID, TraceID: sub.TraceID}
	}
	if pub != nil {
		for _, sub := range subs {
			s.metrics.Count("JobsSubmitted", 1, metrics.Dim("JobType", sub.JobType))
		}
		s.log.InfoContext(ctx, "batch accepted", "jobs", len(subs))
		s.publish(ctx, pub)
	} else {
		s.log.InfoContext(ctx, "idempotent repeat of a batch", "jobs", len(subs), "originalTraceId", subs[0].TraceID)
		w.Header().Set("Idempotent-Replayed", "true")
		// Its first events may still wait in the outbox.
		s.drain(ctx, drainTimeout)
	}
	httpjson.Write(w, http.StatusAccepted, out)
	return nil
}

// decodeBatch reads {"jobs": [...]} strictly: one JSON object, exact
// field names, nothing after it.
func decodeBatch(body []byte) ([]json.RawMessage, error) {
	var req struct {
		Jobs *[]json.RawMessage `json:"jobs"`
	}
	if err := strictjson.Decode(body, &req); err != nil {
		var te *strictjson.TrailingDataError
		if errors.As(err, &te) {
			return nil, badRequest(`a batch must be exactly one JSON object {"jobs": [job submission, ...]}: %v`, err)
		}
		return nil, badRequest(`a batch must be {"jobs": [job submission, ...]}: %v`, err)
	}
	if err := strictjson.CheckKeys(body, strictjson.Fields(&req)); err != nil {
		return nil, badRequest(`a batch must be {"jobs": [job submission, ...]}: %v`, err)
	}
	if req.Jobs == nil || len(*req.Jobs) == 0 || len(*req.Jobs) > MaxBatchJobs {
		return nil, badRequest("jobs: must hold 1 to %d job submissions", MaxBatchJobs)
	}
	return *req.Jobs, nil
}
