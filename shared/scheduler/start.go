package scheduler

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// StartAttempts claims attempts right before a worker runs them. An
// attempt starts only if it is still its job's current dispatch (the job
// RUNNING, the attempt current, the dispatch ID the latest); its lease
// (Config.Lease) starts now, by Postgres' clock. Starting is idempotent:
// the same dispatch started again renews its lease.
func (s *Service) StartAttempts(ctx context.Context, refs []internalapi.AttemptRef) (internalapi.StartResponse, error) {
	resp := internalapi.StartResponse{Started: []string{}, LeaseMs: s.cfg.Lease.Milliseconds()}
	if len(refs) == 0 {
		return resp, nil
	}
	// One statement, atomic on its own: no transaction round trips on the
	// workers' hot path.
	started, err := jobStartMany(ctx, s.pool, refs, s.cfg.Lease)
	if err != nil {
		return resp, err
	}
	resp.Started = append(resp.Started, started...)
	if n := len(refs) - len(started); n > 0 {
		ok := make(map[string]bool, len(started))
		for _, id := range started {
			ok[id] = true
		}
		for _, r := range refs {
			if !ok[r.DispatchID] {
				s.log.InfoContext(trace.With(ctx, "", r.JobID), "run-job refused: not the job's current dispatch",
					"attempt", r.Attempt, "eventId", r.DispatchID)
			}
		}
		s.metrics.Count("StartsRefused", n)
	}
	return resp, nil
}

// ReleaseAttempts takes back dispatched attempts a worker did not run
// (its invocation ended before they got a slot): each job is PENDING
// again at the head of its queue, its attempt not charged. Only a
// job's current dispatch is released.
func (s *Service) ReleaseAttempts(ctx context.Context, refs []internalapi.AttemptRef) (internalapi.ReleaseResponse, error) {
	resp := internalapi.ReleaseResponse{Released: []string{}}
	if len(refs) == 0 {
		return resp, nil
	}
	released, err := jobReleaseMany(ctx, s.pool, refs)
	if err != nil {
		return resp, err
	}
	resp.Released = append(resp.Released, released...)
	if len(released) > 0 {
		s.metrics.Count("AttemptsReturned", len(released))
	}
	s.log.InfoContext(ctx, "unstarted attempts released", "asked", len(refs), "released", len(released))
	return resp, nil
}

// returnUnstarted takes back up to BatchSize attempts dispatched more than
// QueueTimeout ago that no worker started (their record was lost, or
// waited too long): they are dispatched again without being charged, and
// their old record, if it ever arrives, is refused.
func (s *Service) returnUnstarted(ctx context.Context) (int, error) {
	if s.cfg.QueueTimeout <= 0 {
		return 0, nil
	}
	n, err := jobReturnUnstarted(ctx, s.pool, s.cfg.QueueTimeout, s.cfg.BatchSize)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.metrics.Count("AttemptsReturned", n)
		s.log.WarnContext(ctx, "dispatched attempts not started within the queue timeout; dispatched again",
			"count", n, "queueTimeout", s.cfg.QueueTimeout.String())
	}
	return n, nil
}

// serveStart and serveRelease are the HTTP forms of StartAttempts and
// ReleaseAttempts.
func (s *Service) serveStart(w http.ResponseWriter, r *http.Request) {
	refs, err := readAttemptRefs(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	resp, err := s.StartAttempts(r.Context(), refs)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, resp)
}

func (s *Service) serveRelease(w http.ResponseWriter, r *http.Request) {
	refs, err := readAttemptRefs(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	resp, err := s.ReleaseAttempts(r.Context(), refs)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, resp)
}

// readAttemptRefs decodes and checks an internalapi.AttemptsRequest: canonical UUIDs,
// positive attempts, at most internalapi.MaxAttemptRefs.
func readAttemptRefs(r *http.Request) ([]internalapi.AttemptRef, error) {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4<<20))
	dec.DisallowUnknownFields()
	var req internalapi.AttemptsRequest
	if err := dec.Decode(&req); err != nil {
		return nil, invalid("body must be {\"attempts\": [{\"jobId\", \"attempt\", \"dispatchId\"}, ...]}: %v", err)
	}
	if dec.More() {
		return nil, invalid("body must hold a single JSON object")
	}
	if len(req.Attempts) > internalapi.MaxAttemptRefs {
		return nil, invalid("attempts: at most %d per call (got %d)", internalapi.MaxAttemptRefs, len(req.Attempts))
	}
	for i, a := range req.Attempts {
		j, err1 := uuid.Parse(a.JobID)
		d, err2 := uuid.Parse(a.DispatchID)
		if err1 != nil || err2 != nil || a.Attempt < 1 {
			return nil, invalid("attempts[%d]: jobId and dispatchId must be UUIDs and attempt at least 1", i)
		}
		req.Attempts[i].JobID, req.Attempts[i].DispatchID = j.String(), strings.ToLower(d.String())
	}
	return req.Attempts, nil
}
