package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/outbox"
)

// Sources of GET /api/system (Config.Source).
const (
	SourceLocal = "local"
	SourceAWS   = "aws"
)

// systemTimeout bounds each read of GET /api/system (all run at once): a
// part that takes longer is reported as failed, and the rest still
// answer.
const systemTimeout = 5 * time.Second

// The parts of GET /api/system that can fail, as its errors map names
// them.
const (
	partThroughput = "throughput"
	partLag        = "lag"
	partOutbox     = "outbox"
	partDue        = "due"
	partRunning    = "running"
	partDLQ        = "dlq"
)

// System is GET /api/system: the platform's health at generatedAt. A part
// that could not be read is null, and errors says why, by part; the
// functions' health is always there (a function that cannot be reached
// is DOWN).
type System struct {
	GeneratedAt time.Time                 `json:"generatedAt"`
	Source      string                    `json:"source"` // local or aws
	Functions   []FunctionHealth          `json:"functions"`
	Throughput  *internalapi.Throughput   `json:"throughput"`
	Lag         []internalapi.Lag         `json:"lag"`
	Outbox      []OutboxBacklog           `json:"outbox"`
	Due         *internalapi.DueStats     `json:"due"`
	Running     *internalapi.RunningStats `json:"running"`
	DLQ         *DLQOpen                  `json:"dlq"`
	Errors      map[string]string         `json:"errors"`
}

// FunctionHealth is one function's health: UP when its database answers
// (the api's own check; the others' GET /health), else DOWN with why.
type FunctionHealth struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// OutboxBacklog is one service's outbox: rows waiting to be published and
// rows parked (refused by the broker for good).
type OutboxBacklog struct {
	Service string `json:"service"`
	Pending int64  `json:"pending"`
	Parked  int64  `json:"parked"`
}

// DLQOpen counts the dead letters nobody has acted on yet (NEW).
type DLQOpen struct {
	Open int64 `json:"open"`
}

// systemFunctions are the functions GET /api/system reports, in order.
var systemFunctions = []string{invoke.API, invoke.Scheduler, invoke.Worker, invoke.DLQ}

// system is GET /api/system. The reads run at once (a function's two in
// turn), each bounded by systemTimeout; a read that fails makes its parts
// null and adds an error, and the route still answers 200.
func (s *Service) system(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	out := System{
		GeneratedAt: time.Now().UTC().Truncate(time.Millisecond),
		Source:      s.cfg.Source,
		Functions:   make([]FunctionHealth, len(systemFunctions)),
		Errors:      map[string]string{},
	}
	var (
		wg      sync.WaitGroup
		sched   internalapi.SchedulerStats
		worker  internalapi.WorkerStats
		dlq     internalapi.DLQStats
		apiOut  internalapi.OutboxStats
		lagErr  error
		errs    = map[string]error{} // by service, of the stats reads
		errsMu  sync.Mutex
		setErr  = func(k string, err error) { errsMu.Lock(); errs[k] = err; errsMu.Unlock() }
		bounded = func(f func(ctx context.Context)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(ctx, systemTimeout)
				defer cancel()
				f(ctx)
			}()
		}
	)
	// Each function gets one invocation at a time from this request (its
	// health, then its stats): the stack reserves each function one
	// concurrent slot per caller (infra TestConcurrency).
	stats := map[string]any{invoke.Scheduler: &sched, invoke.Worker: &worker, invoke.DLQ: &dlq}
	for i, fn := range systemFunctions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hctx, cancel := context.WithTimeout(ctx, systemTimeout)
			var reached bool
			out.Functions[i], reached = s.functionHealth(hctx, fn)
			cancel()
			if fn == invoke.API {
				return
			}
			if !reached { // it would not answer for its stats either
				setErr(fn, fmt.Errorf("the %s function %s", fn, out.Functions[i].Error))
				return
			}
			sctx, cancel := context.WithTimeout(ctx, systemTimeout)
			defer cancel()
			if err := s.stats(sctx, fn, stats[fn]); err != nil {
				setErr(fn, err)
			}
		}()
	}
	bounded(func(ctx context.Context) {
		var err error
		if apiOut.Pending, apiOut.Parked, err = outbox.Counts(ctx, s.pool); err != nil {
			s.log.WarnContext(ctx, "system: the api's outbox could not be read", "error", err.Error())
			setErr(invoke.API, fmt.Errorf("the api's database %s", failure(ctx)))
		}
	})
	bounded(func(ctx context.Context) {
		if s.cfg.Lag == nil {
			lagErr = errors.New("no lag reader is configured for this deployment")
			return
		}
		lags, err := s.cfg.Lag.Lag(ctx)
		if err != nil {
			s.log.WarnContext(ctx, "system: the consumer lag could not be read", "error", err.Error())
			lagErr = fmt.Errorf("the consumer lag %s", failure(ctx))
			return
		}
		if lags == nil {
			lags = []internalapi.Lag{}
		}
		out.Lag = lags
	})
	wg.Wait()

	if err := errs[invoke.Scheduler]; err != nil {
		for _, part := range []string{partThroughput, partDue, partRunning} {
			out.Errors[part] = err.Error()
		}
	} else {
		out.Throughput, out.Due, out.Running = &sched.Throughput, &sched.Due, &sched.Running
	}
	if err := errs[invoke.DLQ]; err != nil {
		out.Errors[partDLQ] = err.Error()
	} else {
		out.DLQ = &DLQOpen{Open: dlq.Open}
	}
	if lagErr != nil {
		out.Errors[partLag] = lagErr.Error()
	}
	// The outbox lists the services that answered; one that did not is
	// named in errors.outbox (and with none, the part is null).
	var missing string
	for _, svc := range []struct {
		name string
		st   internalapi.OutboxStats
	}{{invoke.API, apiOut}, {invoke.Scheduler, sched.Outbox}, {invoke.Worker, worker.Outbox}, {invoke.DLQ, dlq.Outbox}} {
		if err := errs[svc.name]; err != nil {
			if missing != "" {
				missing += "; "
			}
			missing += err.Error()
			continue
		}
		out.Outbox = append(out.Outbox, OutboxBacklog{Service: svc.name, Pending: svc.st.Pending, Parked: svc.st.Parked})
	}
	if missing != "" {
		out.Errors[partOutbox] = missing
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// functionHealth is fn's health: the api pings its database; the others
// answer their GET /health. reached is false when fn could not be invoked
// at all.
func (s *Service) functionHealth(ctx context.Context, fn string) (h FunctionHealth, reached bool) {
	h = FunctionHealth{Name: fn, Status: "UP"}
	if fn == invoke.API {
		if err := s.pool.Ping(ctx); err != nil {
			s.log.WarnContext(ctx, "system: the api's database does not answer", "error", err.Error())
			h.Status, h.Error = "DOWN", "its database "+failure(ctx)
		}
		return h, true
	}
	status, body, err := invoke.HTTP(ctx, s.inv, fn, http.MethodGet, "/health", nil, nil)
	var b struct {
		Status string `json:"status"`
	}
	switch {
	case err != nil:
		s.log.WarnContext(ctx, "system: a function's health could not be read", "function", fn, "error", err.Error())
		h.Status, h.Error = "DOWN", failure(ctx)
		return h, false
	case json.Unmarshal(body, &b) != nil || status != http.StatusOK || b.Status != "UP":
		h.Status, h.Error = "DOWN", fmt.Sprintf("its health check answered %d %s", status, snippet(body))
	}
	return h, true
}

// stats reads fn's internalapi.PathStats into v.
func (s *Service) stats(ctx context.Context, fn string, v any) error {
	status, body, err := invoke.HTTP(ctx, s.inv, fn, http.MethodGet, internalapi.PathStats, nil, nil)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("answered %d %s", status, snippet(body))
	}
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		s.log.WarnContext(ctx, "system: a function's stats could not be read", "function", fn, "error", err.Error())
		return fmt.Errorf("the %s function %s", fn, failure(ctx))
	}
	return nil
}

// failure says how a read failed without its details (they go to the
// log): it timed out, or it did not answer.
func failure(ctx context.Context) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("did not answer within %s", systemTimeout)
	}
	return "could not be read (see the api's log)"
}
