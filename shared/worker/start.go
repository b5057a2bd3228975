package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
)

// startAttempts starts the tasks' attempts through the scheduler
// (internalapi.PathAttemptsStart) in one call, and returns the run-job
// event IDs that may run and when their lease ends (measured from before
// the call, so never later than the scheduler's). Without a scheduler
// every task may run, with no lease.
func (s *Service) startAttempts(ctx context.Context, tasks []*task) (map[string]bool, time.Time, error) {
	ok := make(map[string]bool, len(tasks))
	if s.cfg.Scheduler == nil {
		for _, t := range tasks {
			ok[t.eventID] = true
		}
		return ok, time.Time{}, nil
	}
	refs := make([]internalapi.AttemptRef, len(tasks))
	for i, t := range tasks {
		refs[i] = internalapi.AttemptRef{JobID: t.jobID, Attempt: t.job.Attempt, DispatchID: t.eventID}
	}
	sent := time.Now()
	var resp internalapi.StartResponse
	if err := callScheduler(ctx, s.cfg.Scheduler, internalapi.PathAttemptsStart, refs, &resp); err != nil {
		return nil, time.Time{}, err
	}
	for _, id := range resp.Started {
		ok[id] = true
	}
	var until time.Time
	if resp.LeaseMs > 0 {
		until = sent.Add(time.Duration(resp.LeaseMs) * time.Millisecond)
	}
	return ok, until, nil
}

// release hands attempts that did not run back to the scheduler, which
// dispatches them again without charging them.
func (s *Service) release(ctx context.Context, tasks []*task) error {
	if s.cfg.Scheduler == nil || len(tasks) == 0 {
		return nil
	}
	refs := make([]internalapi.AttemptRef, len(tasks))
	for i, t := range tasks {
		refs[i] = internalapi.AttemptRef{JobID: t.jobID, Attempt: t.job.Attempt, DispatchID: t.eventID}
	}
	var resp internalapi.ReleaseResponse
	return callScheduler(ctx, s.cfg.Scheduler, internalapi.PathAttemptsRelease, refs, &resp)
}

// callScheduler posts refs to one of the scheduler's attempt routes.
func callScheduler(ctx context.Context, inv invoke.Invoker, path string, refs []internalapi.AttemptRef, out any) error {
	body, err := json.Marshal(internalapi.AttemptsRequest{Attempts: refs})
	if err != nil {
		return err
	}
	code, resp, err := invoke.HTTP(ctx, inv, invoke.Scheduler, http.MethodPost, path, nil, body)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if code != http.StatusOK {
		return fmt.Errorf("worker: scheduler POST %s answered %d: %.300s", path, code, resp)
	}
	if err := json.Unmarshal(resp, out); err != nil {
		return fmt.Errorf("worker: scheduler POST %s: %w", path, err)
	}
	return nil
}
