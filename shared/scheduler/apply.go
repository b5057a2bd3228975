package scheduler

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// outcomeBatch folds attempt outcomes (results or lease rescues) into
// locked jobs, in order, and then writes them set-based: one update of
// job_attempts, one of jobs, and the dead letters of jobs that gave up.
type outcomeBatch struct {
	s        *Service
	order    []string // job IDs in first-change order
	jobs     map[string]*pendingJob
	attempts map[attemptKey]attemptFinish
	m        *metrics.Pending // counts of outcomes, for after the commit
}

type attemptKey struct {
	jobID   string
	attempt int
}

// pendingJob is a job's state as outcomes of this batch changed it.
type pendingJob struct {
	state      *jobState // current; Version is the version locked
	update     jobUpdate
	deadReason string
	deadCode   string
	deadError  string
	// deadLetterID is the event ID of the job's dead letter, chosen when
	// the job gives up so that its attempt row records it (the history
	// links to the dlq entry) in the statement that finishes the attempt.
	deadLetterID string
	// callback: the job parked for a callback (callback.go).
	callback *envelope.AwaitCallback
}

func (s *Service) newOutcomeBatch(m *metrics.Pending) *outcomeBatch {
	return &outcomeBatch{s: s, jobs: map[string]*pendingJob{}, attempts: map[attemptKey]attemptFinish{}, m: m}
}

// add applies o to the locked job j (whose Status it updates, so that a
// later outcome for the same job sees this one) and reports whether it
// applied.
func (b *outcomeBatch) add(ctx context.Context, j *jobState, o attemptOutcome) bool {
	ctx = trace.With(ctx, j.TraceID, j.ID)
	t, ok, why := decide(*j, o)
	if !ok {
		b.s.log.DebugContext(ctx, "attempt outcome ignored", "attempt", o.Attempt, "outcome", o.Outcome,
			"eventId", o.EventID, "status", j.Status, "reason", why)
		return false
	}
	p := b.jobs[j.ID]
	if p == nil {
		p = &pendingJob{state: j, update: jobUpdate{ID: j.ID, Version: j.Version}}
		b.jobs[j.ID] = p
		b.order = append(b.order, j.ID)
	}
	j.Status = t.Status
	p.update.Status = t.Status
	p.callback = nil
	p.update.Delay = nil
	f := attemptFinish{JobID: j.ID, Attempt: o.Attempt, Outcome: o.Outcome, DurationMs: o.DurationMs}
	jt := metrics.Dim("JobType", j.JobType)
	if t.Uncharged {
		// A yield or a park: not a failure. The budget base moves up so
		// that this attempt is not charged; the attempt row records why.
		j.BudgetBase++
		p.update.BudgetBump++
		code, msg := o.ErrorCode, o.Error
		f.ErrorCode, f.Error = nonEmpty(code), nonEmpty(msg)
		p.deadLetterID = ""
		if t.Status == internalapi.StatusWaiting {
			until := o.ParkUntil
			p.update.RunAt = &until
			p.callback = o.AwaitCallback
			wait := time.Until(until)
			f.RetryDelay = &wait // the attempt row's retry_at: the wake time
			b.m.Count("JobsParked", 1, jt)
			b.s.log.InfoContext(ctx, "job parked", "attempt", o.Attempt, "until", until)
		} else {
			d := time.Duration(0)
			p.update.Delay = &d
			p.update.RunAt = nil
			b.m.Count("JobsYielded", 1, jt)
			b.s.log.InfoContext(ctx, "attempt yielded; dispatched again uncharged", "attempt", o.Attempt, "error", o.Error)
		}
		b.attempts[attemptKey{j.ID, o.Attempt}] = f
		return true
	}
	p.update.RunAt = nil
	if o.Outcome != OutcomeCompleted {
		b.m.Count("JobsFailed", 1, jt)
		code, msg := o.ErrorCode, o.Error
		if msg == "" {
			msg = fmt.Sprintf("attempt %d failed", o.Attempt)
		}
		f.ErrorCode, f.Error = nonEmpty(code), &msg
		p.update.LastError, p.update.LastErrorCode = &msg, nonEmpty(code)
		p.deadCode, p.deadError = code, msg
	}
	p.deadLetterID = ""

	switch {
	case t.Status == internalapi.StatusPending:
		d := backoff(o.Attempt, b.s.cfg.BackoffBase, b.s.cfg.BackoffCap, b.s.cfg.Jitter, b.s.rnd())
		p.update.Delay = &d
		f.RetryDelay = &d
		b.m.Count("JobsRetried", 1, jt)
		b.s.log.InfoContext(ctx, "attempt failed; retry scheduled", "attempt", o.Attempt, "outcome", o.Outcome,
			"errorCode", o.ErrorCode, "error", o.Error, "retryIn", d.String(),
			"retriesLeft", j.retriesLeft(o.Attempt)-1)
	case t.DeadReason != "":
		p.deadReason = t.DeadReason
		id := uuid.NewString()
		p.deadLetterID, f.DeadLetterID = id, &id
		b.m.Count("JobsDeadLettered", 1, jt)
		b.s.log.WarnContext(ctx, "job failed; dead-lettered", "attempt", o.Attempt, "outcome", o.Outcome,
			"reason", t.DeadReason, "errorCode", o.ErrorCode, "error", o.Error)
	default:
		b.m.Count("JobsCompleted", 1, jt)
		b.s.log.InfoContext(ctx, "job completed", "attempt", o.Attempt, "eventId", o.EventID)
	}
	b.attempts[attemptKey{j.ID, o.Attempt}] = f
	return true
}

// write stores the batch in tx and returns the dead letters to add to the
// outbox with it.
func (b *outcomeBatch) write(ctx context.Context, tx pgx.Tx) ([]envelope.Envelope, error) {
	if len(b.order) == 0 {
		return nil, nil
	}
	fs := make([]attemptFinish, 0, len(b.attempts))
	for _, f := range b.attempts {
		fs = append(fs, f)
	}
	slices.SortFunc(fs, func(a, c attemptFinish) int { // lock order
		return cmp.Or(strings.Compare(a.JobID, c.JobID), cmp.Compare(a.Attempt, c.Attempt))
	})
	if err := attemptFinishMany(ctx, tx, fs); err != nil {
		return nil, err
	}
	ups := make([]jobUpdate, 0, len(b.order))
	var dead []string
	for _, id := range b.order {
		p := b.jobs[id]
		ups = append(ups, p.update)
		if p.update.Status == internalapi.StatusFailed {
			dead = append(dead, id)
		}
	}
	finished, err := jobUpdateMany(ctx, tx, ups)
	if err != nil {
		return nil, err
	}
	if err := b.writeCallbacks(ctx, tx); err != nil {
		return nil, err
	}
	if len(dead) == 0 {
		return nil, nil
	}
	attempts, err := attemptListByJobs(ctx, tx, dead)
	if err != nil {
		return nil, err
	}
	envs := make([]envelope.Envelope, 0, len(dead))
	for _, id := range dead {
		p := b.jobs[id]
		j := p.state
		list := attempts[id]
		if list == nil {
			list = []envelope.AttemptSummary{}
		}
		// Trimmed if it would not fit the broker (see envelope.Trimmed);
		// the api refuses jobs whose dead letter could need it, so only
		// data from before that check can.
		e, err := envelope.NewDeadLetter(j.TraceID, j.ID, envelope.JobDeadLetter{
			JobSpec:   envelope.JobSpec{JobType: j.JobType, Payload: j.Payload, MaxRetryCount: j.MaxRetryCount},
			Reason:    p.deadReason,
			ErrorCode: p.deadCode,
			LastError: p.deadError,
			Attempts:  list,
			FailedAt:  finished[id].UTC(),
		}, kafka.MaxEventBytes)
		if err != nil {
			return nil, err
		}
		e.EventID = p.deadLetterID // as recorded on the attempt
		envs = append(envs, e)
	}
	return envs, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
