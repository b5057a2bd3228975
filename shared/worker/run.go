package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/pgtext"
	"github.com/jobweaver/jobweaver/shared/step"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// outcome is the result of one attempt.
type outcome struct {
	idx    int // index of the task in the batch being run
	status string
	result envelope.AttemptResult
}

// runAll runs tasks concurrently, at most s.cfg.Concurrency at once, and
// returns their outcomes in order. Steps get a context that ends
// DeadlineMargin before ctx's deadline. A step that ignores that context
// is abandoned half the margin later, and its attempt is reported as cut
// off, so that the batch's results are still written in time.
func (s *Service) runAll(ctx context.Context, tasks []*task) []outcome {
	n := len(tasks)
	outs := make([]outcome, n)
	if n == 0 {
		return outs
	}
	runCtx, cancel := s.runContext(ctx)
	defer cancel()

	abandon := make(chan struct{})
	stop := context.AfterFunc(runCtx, func() {
		time.AfterFunc(s.cfg.DeadlineMargin/2, func() { close(abandon) })
	})
	defer stop()

	results := make(chan outcome, n) // every task sends exactly once: never blocks
	go func() {
		sem := make(chan struct{}, s.cfg.Concurrency)
		for i, t := range tasks {
			select {
			case sem <- struct{}{}:
				go func() {
					defer func() { <-sem }()
					results <- s.runAttempt(runCtx, i, t)
				}()
			case <-abandon:
				results <- s.cutOff(i, t, time.Now(), "the attempt was not started before the invocation deadline")
			}
		}
	}()

	got := make([]bool, n)
	for remaining := n; remaining > 0; {
		select {
		case o := <-results:
			outs[o.idx], got[o.idx] = o, true
			remaining--
		case <-abandon:
			// Take what has arrived, then give up on the rest.
			for drained := false; !drained; {
				select {
				case o := <-results:
					outs[o.idx], got[o.idx] = o, true
				default:
					drained = true
				}
			}
			now := time.Now()
			for i, ok := range got {
				if !ok {
					outs[i] = s.cutOff(i, tasks[i], now, "a step did not stop at the invocation deadline")
					s.log.WarnContext(trace.With(ctx, tasks[i].traceID, tasks[i].jobID), "step ignored the deadline; attempt abandoned",
						"eventId", tasks[i].eventID, "attempt", tasks[i].job.Attempt)
				}
			}
			remaining = 0
		}
	}
	return outs
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
	failed := false
	for k, st := range t.steps {
		sr := envelope.StepResult{Index: k, Action: st.Action()}
		switch {
		case failed:
			sr.Status = StepSkipped
		case ctx.Err() != nil:
			failed = true
			sr.Status = StepFailed
			sr.Error = "not started: the invocation deadline was reached"
			res.ErrorCode = CodeDeadlineExceeded
			res.Error = fmt.Sprintf("step %d (%s) did not start before the invocation deadline", k, sr.Action)
		default:
			t0 := time.Now()
			err := runStep(ctx, st, step.Env{Attempt: t.job.Attempt, Index: k, Log: s.log, HTTP: s.http})
			sr.DurationMs = time.Since(t0).Milliseconds()
			if err == nil {
				sr.Status = StepSucceeded
				break
			}
			failed = true
			sr.Status = StepFailed
			sr.Error = pgtext.Clean(err.Error(), maxErrorBytes)
			if ctx.Err() != nil {
				res.ErrorCode = CodeDeadlineExceeded
				res.Error = pgtext.Clean(fmt.Sprintf("step %d (%s) was cut off by the invocation deadline: %v", k, sr.Action, err), maxErrorBytes)
			} else {
				res.ErrorCode = CodeStepFailed
				res.Error = pgtext.Clean(fmt.Sprintf("step %d (%s) failed: %v", k, sr.Action, err), maxErrorBytes)
			}
		}
		sr.Action = pgtext.Clean(sr.Action, 100)
		res.Steps[k] = sr
	}
	res.FinishedAt = time.Now()
	return s.finish(ctx, i, t, res)
}

func (s *Service) finish(ctx context.Context, i int, t *task, res envelope.AttemptResult) outcome {
	res.DurationMs = res.FinishedAt.Sub(res.StartedAt).Milliseconds()
	status := StatusCompleted
	level := slog.LevelInfo
	if res.ErrorCode != "" {
		status = StatusFailed
		level = slog.LevelWarn
	}
	s.log.LogAttrs(ctx, level, "attempt finished",
		slog.String("eventId", t.eventID), slog.Int("attempt", res.Attempt), slog.String("status", status),
		slog.Int64("durationMs", res.DurationMs), slog.String("errorCode", res.ErrorCode), slog.String("error", res.Error))
	return outcome{idx: i, status: status, result: res}
}

// runStep runs one step, turning a panic into an error: one bad step kind
// must not crash the function and so fail every delivery of the batch.
func runStep(ctx context.Context, st step.Step, env step.Env) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: panic: %v", step.ErrStepFailed, r)
		}
	}()
	return st.Run(ctx, env)
}
