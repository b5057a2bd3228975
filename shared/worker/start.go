package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/scheduler"
)

// claim is the answer to a start request: whether the attempt may run,
// and until when its lease lasts (zero: no lease known).
type claim struct {
	ok         bool
	leaseUntil time.Time
	err        error
}

type claimReq struct {
	ref   scheduler.AttemptRef
	reply chan claim // buffered: the claimer never blocks on it
}

// claimer starts attempts through the scheduler right before they run
// (scheduler.PathAttemptsStart). Requests that arrive while a call is in
// flight go together in the next call, so a burst of free slots costs one
// call, and a lone slot never waits for others.
type claimer struct {
	inv  invoke.Invoker // nil: every attempt may run, without a lease
	reqs chan claimReq
	stop chan struct{}
}

func (s *Service) newClaimer(ctx context.Context, n int) *claimer {
	c := &claimer{inv: s.cfg.Scheduler, reqs: make(chan claimReq, n), stop: make(chan struct{})}
	if c.inv != nil {
		go c.loop(ctx)
	}
	return c
}

// close stops the loop once no more requests will come.
func (c *claimer) close() { close(c.stop) }

func (c *claimer) loop(ctx context.Context) {
	for {
		var first claimReq
		select {
		case first = <-c.reqs:
		case <-c.stop:
			return
		}
		batch := []claimReq{first}
	more:
		for {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		refs := make([]scheduler.AttemptRef, len(batch))
		for i, r := range batch {
			refs[i] = r.ref
		}
		sent := time.Now()
		var resp scheduler.StartResponse
		err := callScheduler(ctx, c.inv, scheduler.PathAttemptsStart, refs, &resp)
		ok := make(map[string]bool, len(resp.Started))
		for _, id := range resp.Started {
			ok[id] = true
		}
		var until time.Time
		if resp.LeaseMs > 0 {
			// Measured from before the call: never later than the
			// scheduler's own lease_until.
			until = sent.Add(time.Duration(resp.LeaseMs) * time.Millisecond)
		}
		for _, r := range batch {
			r.reply <- claim{ok: err == nil && ok[r.ref.DispatchID], leaseUntil: until, err: err}
		}
	}
}

// start asks to start t's attempt and waits for the answer.
func (c *claimer) start(t *task) claim {
	if c.inv == nil {
		return claim{ok: true}
	}
	r := claimReq{
		ref:   scheduler.AttemptRef{JobID: t.jobID, Attempt: t.job.Attempt, DispatchID: t.eventID},
		reply: make(chan claim, 1),
	}
	select {
	case c.reqs <- r:
	case <-c.stop:
		return claim{err: fmt.Errorf("worker: the batch ended before attempt %d could start", t.job.Attempt)}
	}
	return <-r.reply
}

// release hands attempts that did not run back to the scheduler, which
// dispatches them again without charging them.
func (s *Service) release(ctx context.Context, tasks []*task) error {
	if s.cfg.Scheduler == nil || len(tasks) == 0 {
		return nil
	}
	refs := make([]scheduler.AttemptRef, len(tasks))
	for i, t := range tasks {
		refs[i] = scheduler.AttemptRef{JobID: t.jobID, Attempt: t.job.Attempt, DispatchID: t.eventID}
	}
	var resp scheduler.ReleaseResponse
	return callScheduler(ctx, s.cfg.Scheduler, scheduler.PathAttemptsRelease, refs, &resp)
}

// callScheduler posts refs to one of the scheduler's attempt routes.
func callScheduler(ctx context.Context, inv invoke.Invoker, path string, refs []scheduler.AttemptRef, out any) error {
	body, err := json.Marshal(scheduler.AttemptsRequest{Attempts: refs})
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
