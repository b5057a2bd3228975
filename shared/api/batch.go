package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/jobspec"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/step"
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
// or nothing: one invalid job rejects the batch, naming it by index. The
// jobs share the request's trace ID. With an Idempotency-Key K, job i is
// stored under the key K/i, so a repeat returns the same job IDs.
func (s *Service) submitBatch(w http.ResponseWriter, r *http.Request) error {
	if err := checkJSON(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	key := strings.TrimSpace(r.Header.Get(IdempotencyKeyHeader))
	if len(key) > MaxIdempotencyKeyLen-5 {
		return badRequest("%s must be at most %d characters on a batch (got %d)", IdempotencyKeyHeader, MaxIdempotencyKeyLen-5, len(key))
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
		job, err := jobspec.Decode(raw, step.Default)
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
	traceID := trace.TraceID(ctx)
	out := BatchAccepted{Jobs: make([]Accepted, len(jobs))}
	if key == "" {
		subs, pub, err := insertJobs(ctx, s.pool, jobs, traceID)
		if err != nil {
			return err
		}
		for i, sub := range subs {
			out.Jobs[i] = Accepted{JobID: sub.ID, TraceID: sub.TraceID}
			s.metrics.Count("JobsSubmitted", 1, metrics.Dim("JobType", sub.JobType))
		}
		s.log.InfoContext(ctx, "batch accepted", "jobs", len(subs))
		s.publish(ctx, pub)
	} else {
		pub := &pendingEvent{}
		for i, job := range jobs {
			sub, p, err := createJob(ctx, s.pool, job, fmt.Sprintf("%s/%d", key, i), traceID)
			if err != nil {
				return err
			}
			if p != nil {
				pub.ids, pub.envs = append(pub.ids, p.ids...), append(pub.envs, p.envs...)
				s.metrics.Count("JobsSubmitted", 1, metrics.Dim("JobType", sub.JobType))
			}
			out.Jobs[i] = Accepted{JobID: sub.ID, TraceID: sub.TraceID}
		}
		s.log.InfoContext(ctx, "batch accepted", "jobs", len(jobs), "new", len(pub.envs))
		if len(pub.envs) < len(jobs) {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		s.publish(ctx, pub)
	}
	apierror.WriteJSON(w, http.StatusAccepted, out)
	return nil
}

// decodeBatch reads {"jobs": [...]} strictly.
func decodeBatch(body []byte) ([]json.RawMessage, error) {
	var req struct {
		Jobs *[]json.RawMessage `json:"jobs"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, badRequest(`a batch must be {"jobs": [job submission, ...]}: %v`, err)
	}
	if dec.More() {
		return nil, badRequest("body must hold a single JSON object")
	}
	if err := strictjson.CheckKeys(body, strictjson.Fields(&req)); err != nil {
		return nil, badRequest(`a batch must be {"jobs": [job submission, ...]}: %v`, err)
	}
	if req.Jobs == nil || len(*req.Jobs) == 0 || len(*req.Jobs) > MaxBatchJobs {
		return nil, badRequest("jobs: must hold 1 to %d job submissions", MaxBatchJobs)
	}
	return *req.Jobs, nil
}
