package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/pgtext"
	"github.com/jobweaver/jobweaver/shared/step"
	"github.com/jobweaver/jobweaver/shared/trace"
	"github.com/jobweaver/jobweaver/shared/tracing"
)

// outcome is the result of one attempt.
type outcome struct {
	idx     int // index of the task in the batch being run
	status  string
	result  envelope.AttemptResult
	outputs []stepOutput       // kept for job types that keep outputs
	last    *pendingCheckpoint // the last step's checkpoint, written with the record
}

// stepOutput is one step's output, kept in step_outputs.
type stepOutput struct {
	index  int
	id     string
	output json.RawMessage
}

// MaxAttemptOutputBytes caps the outputs one attempt keeps: a step whose
// output would pass it fails with step.CodeOutputTooLarge.
const MaxAttemptOutputBytes = 1 << 20

// Task states in a batch.
const (
	taskWaiting   int32 = iota // no slot yet
	taskRunning                // started
	taskDone                   // its outcome went to the reporter
	taskRefused                // not the job's current dispatch: not run
	taskUnstarted              // started only after the deadline: not run
	taskNoClaim                // the start call failed: not run; the batch is redelivered
)

// runBatch runs tasks concurrently, each once it gets a slot of its
// class (see slots: CPU-bound attempts at most Concurrency at once in the
// process, I/O-bound ones at most IOConcurrency), and hands each outcome
// to the reporter as soon as its attempt ends. Each attempt is started
// through the scheduler right before it runs: whenever slots are free,
// the next tasks in line that get one are started together in one call
// (see startAttempts), so a burst of free slots costs one call and a lone
// slot never waits for others; a task whose class is full does not hold
// back the other class's tasks behind it. Steps get a
// context that ends DeadlineMargin before ctx's deadline, or before the
// attempt's lease ends if that is sooner. A step that ignores that
// context is abandoned half the margin after the invocation's step
// deadline, and its attempt is reported as cut off, so that results are
// still written in time. Tasks that did not start before the step
// deadline are released to the scheduler, uncharged. It returns how many
// tasks could not be started because the scheduler did not answer (the
// batch must be delivered again for them).
func (s *Service) runBatch(ctx context.Context, tasks []*task, rep *reporter) (noClaim int) {
	n := len(tasks)
	if n == 0 {
		return 0
	}
	runCtx, cancel := s.runContext(ctx)
	defer cancel()

	abandon := make(chan struct{})
	stop := context.AfterFunc(runCtx, func() {
		time.AfterFunc(s.cfg.DeadlineMargin/2, func() { close(abandon) })
	})
	defer stop()

	states := make([]atomic.Int32, n)
	var wg sync.WaitGroup
	classes := make([]step.Class, n)
	pending := make([]int, n) // tasks with no slot yet, in line
	for i, t := range tasks {
		classes[i], pending[i] = step.ClassOf(t.steps), i
	}
	// A slot is given back once: when its attempt ends, or when the
	// attempt is abandoned (a step ignoring the deadline must not keep the
	// process's slot after the invocation).
	var held sync.Map
	release := func(i int) {
		if _, ok := held.LoadAndDelete(i); ok {
			s.slots.release(classes[i])
		}
	}
	for len(pending) > 0 && runCtx.Err() == nil {
		freed := s.slots.freed()
		var picked []int
		picked, pending = s.slots.take(classes, pending)
		if len(picked) == 0 {
			select {
			case <-freed:
			case <-runCtx.Done():
			}
			continue
		}
		group := make([]*task, len(picked))
		for k, i := range picked {
			group[k] = tasks[i]
			held.Store(i, true)
		}
		ok, leaseUntil, err := s.startAttempts(ctx, group)
		if err != nil {
			s.log.ErrorContext(ctx, "attempts not started: the scheduler did not answer; the batch will be delivered again",
				"count", len(picked)+len(pending), "error", err.Error())
			for _, i := range picked {
				states[i].Store(taskNoClaim)
				release(i)
			}
			for _, i := range pending {
				states[i].Store(taskNoClaim)
			}
			break
		}
		for k, t := range group {
			i := picked[k]
			switch {
			case !ok[t.eventID]:
				s.log.InfoContext(trace.With(ctx, t.traceID, t.jobID), "run-job skipped: not the job's current dispatch",
					"eventId", t.eventID, "attempt", t.job.Attempt)
				states[i].Store(taskRefused)
				release(i)
				continue
			case runCtx.Err() != nil: // started too late: released below
				states[i].Store(taskUnstarted)
				release(i)
				continue
			}
			states[i].Store(taskRunning)
			rep.started()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer release(i)
				actx := runCtx
				if !leaseUntil.IsZero() {
					var cancel context.CancelFunc
					actx, cancel = context.WithDeadline(runCtx, leaseStop(leaseUntil, s.cfg.DeadlineMargin))
					defer cancel()
				}
				actx, endSpan := startAttemptSpan(actx, t)
				o := s.runAttempt(actx, i, t)
				endSpan(o)
				if states[i].CompareAndSwap(taskRunning, taskDone) {
					rep.add(t, o)
				}
			}()
		}
	}

	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-abandon:
		now := time.Now()
		for i, t := range tasks {
			if states[i].CompareAndSwap(taskRunning, taskDone) {
				s.log.WarnContext(trace.With(ctx, t.traceID, t.jobID), "step ignored the deadline; attempt abandoned",
					"eventId", t.eventID, "attempt", t.job.Attempt)
				rep.add(t, s.cutOff(i, t, now, "a step did not stop at the invocation deadline"))
				release(i)
			}
		}
	}

	var unstarted []*task
	for i, t := range tasks {
		switch states[i].Load() {
		case taskWaiting, taskUnstarted:
			unstarted = append(unstarted, t)
		case taskNoClaim:
			noClaim++
		}
	}
	if len(unstarted) > 0 {
		s.metrics.Count("AttemptsNotStarted", len(unstarted))
		// What is left of the invocation is enough for one call. If it
		// fails, the scheduler's queue timeout takes them back.
		if err := s.release(ctx, unstarted); err != nil {
			s.log.WarnContext(ctx, "attempts not started before the deadline could not be released; the queue timeout will take them back",
				"count", len(unstarted), "error", err.Error())
		} else {
			s.log.InfoContext(ctx, "attempts not started before the deadline released, uncharged", "count", len(unstarted))
		}
	}
	return noClaim
}

// leaseStop is when an attempt whose lease ends at until must stop: margin
// before, so that its result arrives within the lease (half the time left
// when the lease is shorter than twice the margin).
func leaseStop(until time.Time, margin time.Duration) time.Time {
	left := time.Until(until)
	if left > 2*margin {
		return until.Add(-margin)
	}
	return time.Now().Add(left / 2)
}

// runContext returns the context steps run under: it ends DeadlineMargin
// before ctx's deadline (at once if that is already past).
func (s *Service) runContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-s.cfg.DeadlineMargin))
	}
	return context.WithCancel(ctx)
}

func (s *Service) cutOff(i int, t *task, now time.Time, why string) outcome {
	return outcome{idx: i, status: StatusFailed, result: envelope.AttemptResult{
		Attempt:    t.job.Attempt,
		StartedAt:  now,
		FinishedAt: now,
		Steps:      []envelope.StepResult{},
		ErrorCode:  CodeDeadlineExceeded,
		Error:      why,
	}}
}

// runAttempt runs a task's steps in order and stops at the first failure.
// It resumes the job: a step checkpointed by an earlier attempt does not
// run again (its output feeds the later steps), and each step that
// finishes is checkpointed before the next starts. A deadline cut ends
// the attempt yielded; a long SLEEP parks it (durable.go).
func (s *Service) runAttempt(ctx context.Context, i int, t *task) outcome {
	ctx = trace.With(ctx, t.traceID, t.jobID)
	started := time.Now()
	res := envelope.AttemptResult{Attempt: t.job.Attempt, StartedAt: started}
	if t.invalid != nil {
		res.FinishedAt = started
		res.Steps = []envelope.StepResult{}
		res.ErrorCode = CodeInvalidJob
		res.Error = pgtext.Clean("the job cannot run: "+t.invalid.Error(), maxErrorBytes)
		res.Permanent = true
		return s.finish(ctx, i, t, res)
	}
	res.Steps = make([]envelope.StepResult, len(t.steps))
	cps, err := t.cps, error(nil)
	if !t.cpsLoaded {
		cps, err = s.loadCheckpoints(ctx, t.jobID)
	}
	if err != nil {
		for k, st := range t.steps {
			res.Steps[k] = envelope.StepResult{Index: k, Action: pgtext.Clean(st.Action(), 100), Status: StepSkipped}
		}
		res.FinishedAt = time.Now()
		res.ErrorCode = CodeCheckpointsUnavailable
		res.Error = pgtext.Clean(err.Error(), maxErrorBytes)
		return s.finish(ctx, i, t, res)
	}
	failed := false // failed, yielded or parked: later steps are skipped
	var (
		outs       []stepOutput
		byID       = map[string]json.RawMessage{}
		outBytes   int
		permanent  bool
		progressed bool
		last       *pendingCheckpoint
	)
	yield := func(k int, action, why string) {
		failed = true
		res.Yielded = true
		res.ErrorCode = CodeYielded
		res.Error = pgtext.Clean(fmt.Sprintf("step %d (%s) %s; the job resumes at step %d in a new attempt, uncharged", k, action, why, k), maxErrorBytes)
	}
	park := s.cfg.Durable.parkAfter()
	for k, st := range t.steps {
		sr := envelope.StepResult{Index: k, Action: st.Action()}
		cp, done := cps[k]
		sleep, isSleep := step.SleepDuration(st)
		wait, isWait := step.CallbackWait(st)
		switch {
		case failed:
			sr.Status = StepSkipped
		case done && cp.finished.After(time.Now()) && time.Until(cp.finished) > park:
			// A parked SLEEP woken early: park again until it is due.
			failed = true
			sr.Status = StepParked
			until := cp.finished.UTC()
			res.ParkUntil = &until
			res.ErrorCode = CodeParked
			res.Error = fmt.Sprintf("step %d (SLEEP) parks the job until %s", k, until.Format(time.RFC3339Nano))
		case done && !cp.finished.After(time.Now()):
			sr.Status = StepSucceeded
			sr.Resumed = true
			if cp.output != nil && t.keep {
				outBytes += len(cp.output)
				outs = append(outs, stepOutput{index: k, id: cp.id, output: cp.output})
				if cp.id != "" {
					byID[cp.id] = cp.output
				}
			}
		case ctx.Err() != nil:
			sr.Status = StepSkipped
			yield(k, sr.Action, "did not start before the invocation deadline")
		case done: // a parked SLEEP due within the threshold: sleep the rest here
			t0 := time.Now()
			err := sleepCtx(ctx, time.Until(cp.finished))
			sr.DurationMs = time.Since(t0).Milliseconds()
			if err != nil {
				sr.Status = StepInterrupted
				yield(k, sr.Action, "was cut by the invocation deadline")
				break
			}
			sr.Status = StepSucceeded
			sr.Resumed = true
		case isWait && !step.HasCallback(t.job.Callback, k):
			failed = true
			parkForCallback(&res, &sr, k, st, wait) // callback.go
		case isSleep && sleep > park:
			until := time.Now().Add(sleep).UTC()
			failed = true
			if err := s.saveCheckpoint(ctx, t, k, "", nil, until); err != nil {
				sr.Status = StepFailed
				sr.Error = pgtext.Clean(err.Error(), maxErrorBytes)
				res.ErrorCode = CodeCheckpointsUnavailable
				res.Error = pgtext.Clean(fmt.Sprintf("step %d (SLEEP) could not park the job: %v", k, err), maxErrorBytes)
				break
			}
			sr.Status = StepParked
			res.ParkUntil = &until
			res.ErrorCode = CodeParked
			res.Error = fmt.Sprintf("step %d (SLEEP) parks the job until %s", k, until.Format(time.RFC3339Nano))
		default:
			t0 := time.Now()
			env := step.Env{Attempt: t.job.Attempt, Index: k, Log: s.log, HTTP: s.http, JobID: t.jobID,
				Outputs: byID, SigningKey: s.signingKey, Callback: t.job.Callback}
			out, err := s.runStepOrBatch(ctx, t, st, env, &progressed) // batch.go
			sr.DurationMs = time.Since(t0).Milliseconds()
			var kept json.RawMessage
			if out != nil && t.keep {
				switch {
				case len(out) > step.MaxOutputBytes || outBytes+len(out) > MaxAttemptOutputBytes:
					if err == nil {
						err = &step.CodedError{Code: step.CodeOutputTooLarge, Err: fmt.Errorf(
							"%w: its output takes %d bytes; a step keeps at most %d, an attempt %d in all (%d kept so far)",
							step.ErrStepFailed, len(out), step.MaxOutputBytes, MaxAttemptOutputBytes, outBytes)}
					}
				case !json.Valid(out):
					if err == nil {
						err = fmt.Errorf("%w: its output is not JSON", step.ErrStepFailed)
					}
				default:
					outBytes += len(out)
					id := step.ID(st)
					outs = append(outs, stepOutput{index: k, id: id, output: out})
					if id != "" && err == nil {
						byID[id] = out
						kept = out
					} else if err == nil {
						kept = out
					}
				}
			}
			if err == nil {
				sr.Status = StepSucceeded
				if k == len(t.steps)-1 {
					// The last step: checkpointed with the attempt's record.
					last = &pendingCheckpoint{index: k, id: step.ID(st), output: kept, at: time.Now()}
					break
				}
				// Checkpointed before the next step starts. If it cannot be
				// written, a later attempt runs the step again.
				if cerr := s.saveCheckpoint(ctx, t, k, step.ID(st), kept, time.Now()); cerr != nil {
					s.log.WarnContext(ctx, "step finished but not checkpointed; a later attempt would run it again",
						"step", k, "error", cerr.Error())
				} else {
					progressed = true
				}
				break
			}
			sr.Error = pgtext.Clean(err.Error(), maxErrorBytes)
			if ctx.Err() != nil {
				sr.Status = StepInterrupted
				yield(k, sr.Action, "was cut by the invocation deadline ("+sr.Error+")")
				break
			}
			failed = true
			sr.Status = StepFailed
			res.ErrorCode = CodeStepFailed
			var ce *step.CodedError
			if errors.As(err, &ce) {
				res.ErrorCode, permanent = ce.Code, ce.Permanent
			}
			res.Error = pgtext.Clean(fmt.Sprintf("step %d (%s) failed: %v", k, sr.Action, err), maxErrorBytes)
		}
		sr.Action = pgtext.Clean(sr.Action, 100)
		res.Steps[k] = sr
	}
	if res.Yielded {
		idle, err := s.noteYield(ctx, t.jobID, progressed)
		switch {
		case err != nil:
			s.log.WarnContext(ctx, "yield not counted", "error", err.Error())
		case idle >= s.cfg.Durable.MaxIdleYields:
			res.Yielded = false
			res.ErrorCode = CodeStepExceedsTimeout
			permanent = true
			res.Error = pgtext.Clean(fmt.Sprintf("%d attempts in a row were cut by the deadline without finishing a step: "+
				"a step cannot finish within one invocation (last: %s)", idle, res.Error), maxErrorBytes)
		}
	}
	res.FinishedAt = time.Now()
	res.Permanent = permanent
	o := s.finish(ctx, i, t, res)
	o.outputs = outs
	o.last = last
	return o
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) finish(ctx context.Context, i int, t *task, res envelope.AttemptResult) outcome {
	res.DurationMs = res.FinishedAt.Sub(res.StartedAt).Milliseconds()
	status := StatusCompleted
	level := slog.LevelInfo
	switch {
	case res.ParkUntil != nil:
		status = StatusParked
	case res.Yielded:
		status = StatusYielded
	case res.ErrorCode != "":
		status = StatusFailed
		level = slog.LevelWarn
	}
	s.log.LogAttrs(ctx, level, "attempt finished",
		slog.String("eventId", t.eventID), slog.Int("attempt", res.Attempt), slog.String("status", status),
		slog.Int64("durationMs", res.DurationMs), slog.String("errorCode", res.ErrorCode), slog.String("error", res.Error))
	return outcome{idx: i, status: status, result: res}
}

// runStep runs one step, and returns its output if it has one and keep
// (the job type keeps outputs) is set, turning a
// panic into an error: one bad step kind must not crash the function and
// so fail every delivery of the batch.
func runStep(ctx context.Context, st step.Step, env step.Env, keep bool) (out json.RawMessage, err error) {
	ctx, span := startStepSpan(ctx, st, env)
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: panic: %v", step.ErrStepFailed, r)
		}
		tracing.End(span, err)
	}()
	if p, ok := st.(step.Producer); ok && keep {
		return p.Produce(ctx, env)
	}
	return nil, st.Run(ctx, env)
}

// signingKey looks up a WEBHOOK signing secret by name.
func (s *Service) signingKey(name string) ([]byte, bool) {
	k, ok := s.cfg.SigningKeys[name]
	return k, ok
}
