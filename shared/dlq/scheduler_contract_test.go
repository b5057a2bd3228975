package dlq_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/trigger"
)

// contractScheduler answers POST internalapi.PathJobRetry as the contract
// between the dlq and the scheduler says (docs/openapi.yaml's brief; the
// scheduler's own tests check its side): a FAILED job becomes PENDING
// with attempt n+1 next, once per dlqId (the same dlqId answers the same
// 202); 409 SCHEDULER.JOB_NOT_RETRYABLE for a job that is not FAILED, 404
// for an unknown one. Jobs it was not told about are FAILED after one
// attempt. While down, every call fails as an unreachable function does.
type contractScheduler struct {
	mu      sync.Mutex
	status  map[string]string // jobID → status (absent: FAILED, 1 attempt)
	gone    map[string]bool   // jobIDs it does not know
	byDLQ   map[string]internalapi.JobRetryResponse
	retried map[string]int // jobID → manual retries that took effect
	calls   int
	down    bool
	// handle serves the scheduler's invocations (reachable or not).
	handle func(context.Context, json.RawMessage) (any, error)
}

func newContractScheduler() (*contractScheduler, invoke.Invoker) {
	c := &contractScheduler{status: map[string]string{}, gone: map[string]bool{}, byDLQ: map[string]internalapi.JobRetryResponse{}, retried: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+internalapi.PathJobRetry, c.retry)
	inv := &invoke.Local{}
	c.handle = trigger.Router{Name: "scheduler", HTTP: mux}.Handle
	inv.Register(invoke.Scheduler, trigger.HandleFunc(c.handle))
	return c, reachable{c, inv}
}

// invokeOf reaches c's handler in-process.
func invokeOf(c *contractScheduler) invoke.Invoker {
	inv := &invoke.Local{}
	inv.Register(invoke.Scheduler, trigger.HandleFunc(c.handle))
	return inv
}

// reachable fails every invocation while the scheduler is down.
type reachable struct {
	c   *contractScheduler
	inv invoke.Invoker
}

func (r reachable) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	r.c.mu.Lock()
	down := r.c.down
	if down {
		r.c.calls++
	}
	r.c.mu.Unlock()
	if down {
		return nil, errors.New("invoke: scheduler: connection refused")
	}
	return r.inv.Invoke(ctx, function, payload)
}

func (c *contractScheduler) retry(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	var req internalapi.JobRetryRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.DLQID == "" || req.By == "" {
		apierror.Write(w, r, nil, "SCHEDULER", apierror.New(http.StatusBadRequest, "SCHEDULER.INVALID_REQUEST", "bad body"))
		return
	}
	id := r.PathValue("id")
	if prev, ok := c.byDLQ[req.DLQID]; ok {
		httpjson.Write(w, http.StatusAccepted, prev)
		return
	}
	if c.gone[id] {
		apierror.Write(w, r, nil, "SCHEDULER", apierror.New(http.StatusNotFound, internalapi.CodeJobNotFound, "no job "+id))
		return
	}
	st, ok := c.status[id]
	if !ok {
		st = internalapi.StatusFailed
	}
	if st != internalapi.StatusFailed {
		apierror.Write(w, r, nil, "SCHEDULER", apierror.New(http.StatusConflict, internalapi.CodeJobNotRetryable, "job "+id+" is "+st))
		return
	}
	c.status[id] = internalapi.StatusPending
	c.retried[id]++
	resp := internalapi.JobRetryResponse{JobID: id, Status: internalapi.StatusPending, NextAttempt: 2}
	c.byDLQ[req.DLQID] = resp
	httpjson.Write(w, http.StatusAccepted, resp)
}

func (c *contractScheduler) set(f func(c *contractScheduler)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}
