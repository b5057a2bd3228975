package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/pgtext"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// HandleKafka consumes a batch of job-created, job-completed and
// job-failed records (one batch may mix topics). It applies new results,
// ingests new jobs (dispatching them at once when nothing older is due
// and there is room: see consume) and dead-letters poison records in one
// transaction, then runs a dispatch pass (dispatchSoon) unless the
// transaction left none owed, and publishes the outbox rows it committed
// by their IDs (publish). An error means the batch should be delivered
// again; everything is idempotent.
func (s *Service) HandleKafka(ctx context.Context, ev events.KafkaEvent) error {
	recs := kafka.Flatten(ev)
	defer s.metrics.Flush()
	if len(recs) > 0 {
		s.metrics.Value("BatchSize", float64(len(recs)), metrics.Count)
	}
	var (
		created []inbound
		results []inbound
		poison  []envelope.Envelope
	)
	for _, r := range recs {
		in, err := parseRecord(r)
		if err != nil {
			if !errors.Is(err, envelope.ErrInvalid) {
				return err
			}
			dl, derr := poisonDeadLetter(r, err, s.now())
			if derr != nil {
				return derr
			}
			s.log.ErrorContext(trace.With(ctx, dl.TraceID, dl.JobID), "poison record dead-lettered",
				"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "error", err.Error())
			poison = append(poison, dl)
			continue
		}
		if in.Created != nil {
			created = append(created, in)
		} else {
			results = append(results, in)
		}
	}
	var (
		settled bool
		rows    []int64 // outbox rows committed here, published below by ID
	)
	if len(recs) > 0 {
		var err error
		if settled, rows, err = s.consume(ctx, created, results, poison); err != nil {
			return err
		}
		s.metrics.Count("PoisonRecords", len(poison))
	}
	var dispatchErr error
	if settled {
		s.gaugeDueBacklog(ctx, false) // as the pass that found nothing due would
	} else {
		var more []int64
		more, dispatchErr = s.dispatchSoon(ctx)
		rows = append(rows, more...)
	}
	err := s.publish(ctx, rows)
	s.gaugeOutboxBacklog(ctx)
	return errors.Join(dispatchErr, err)
}

// publish sends the outbox rows this invocation committed, by ID
// (Relay.DrainRows: no scan of the outbox, and no row sent by two relays).
// It drains the whole outbox when that failed, and otherwise at most once
// per sweepEvery in the process, for rows a failed or crashed invocation
// left (a redelivered batch commits nothing new, so it has no rows of its
// own to send).
func (s *Service) publish(ctx context.Context, rows []int64) error {
	_, err := s.relay.DrainRows(ctx, rows)
	now := time.Now().UnixNano()
	last := s.lastSweep.Load()
	if err == nil && (now-last < int64(sweepEvery) || !s.lastSweep.CompareAndSwap(last, now)) {
		return nil
	}
	if _, derr := s.relay.Drain(ctx); derr != nil {
		return fmt.Errorf("scheduler: relay outbox: %w", errors.Join(err, derr))
	}
	return nil
}

// sweepEvery is how often, at most, a process's Kafka invocations drain
// the whole outbox besides publishing their own rows.
const sweepEvery = time.Second

// consume writes a parsed batch in one transaction: results first, then
// the new jobs (ingest), then the dead letters and run-job events to the
// outbox. It returns whether the batch owes no dispatch pass (settled):
// it applied no results (a result may free a slot or make a retry due),
// and its ingest found nothing due and dispatched every job it inserted.
// It also returns the IDs of the outbox rows it committed, for publish.
func (s *Service) consume(ctx context.Context, created, results []inbound, poison []envelope.Envelope) (settled bool, rows []int64, err error) {
	var m metrics.Pending // the outcomes' metrics count once the transaction commits
	spans := startConsumeSpans(ctx, created, results)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		dead, err := s.applyResults(ctx, tx, results, &m)
		if err != nil {
			return err
		}
		spans.stamp(dead)
		in, err := s.ingest(ctx, tx, created, spans, &m)
		if err != nil {
			return err
		}
		settled = len(results) == 0 && in.settled
		if rows, err = outbox.Insert(ctx, tx, append(append(poison, dead...), in.runJobs...)...); err != nil {
			return err
		}
		s.log.DebugContext(ctx, "batch consumed", "created", len(created), "ingested", in.inserted,
			"dispatched", len(in.runJobs), "results", len(results), "poison", len(poison), "deadLetters", len(dead))
		return nil
	})
	spans.end(err)
	if err != nil {
		return false, nil, err
	}
	s.metrics.Commit(&m)
	return settled, rows, nil
}

// ingested is what ingest did.
type ingested struct {
	inserted int                 // new jobs (the rest existed)
	runJobs  []envelope.Envelope // the run-job events of those it dispatched
	settled  bool                // it saw nothing due and dispatched every job it inserted
}

// ingest inserts the jobs of job-created events; a job that exists (a
// redelivery, or a job cancelled before it arrived) is left as it is. If
// no job is due in either queue, before it takes the dispatch lock and
// once it holds it (so none jumps the queue and the fair split is not
// touched), it inserts up to min(BatchSize, MaxInFlight - running) of
// them RUNNING at once, dispatched just as a dispatch pass would claim
// them (jobIngestDispatched), and returns their run-job events; the rest
// are PENDING, for the pass.
//
// Lock order: the lock is taken after the batch's results locked their
// rows, and a transaction holding it waits for no lock a waiter for it
// may hold. A dispatch pass takes it first and skips locked rows; an
// ingest holding it reads, then inserts only IDs it did not see (a
// redelivered job's row, which a result may be updating, is not
// touched), so it can wait only for a concurrent insert of the same ID:
// a cancel of a job not yet ingested, or an ingest that found a job due
// and so takes no lock. Neither waits for the lock.
func (s *Service) ingest(ctx context.Context, tx pgx.Tx, created []inbound, spans *batchSpans, m *metrics.Pending) (ingested, error) {
	if len(created) == 0 {
		return ingested{}, nil
	}
	jobs := make([]newJob, 0, len(created))
	seen := make(map[string]bool, len(created))
	for _, in := range created {
		if seen[in.Env.JobID] {
			continue
		}
		seen[in.Env.JobID] = true
		c := in.Created
		j := newJob{ID: in.Env.JobID, JobType: c.JobType, Payload: c.Payload,
			MaxRetryCount: c.MaxRetryCount, TraceID: in.Env.TraceID, CreatedBy: c.CreatedBy}
		if !c.CreatedAt.IsZero() {
			t := c.CreatedAt
			j.CreatedAt = &t
		}
		jobs = append(jobs, j)
	}
	slices.SortFunc(jobs, func(a, b newJob) int { return strings.Compare(a.ID, b.ID) })
	room, err := s.ingestRoom(ctx, tx)
	if err != nil {
		return ingested{}, err
	}
	if room <= 0 {
		n, err := jobInsertMany(ctx, tx, jobs)
		return ingested{inserted: int(n)}, err
	}
	claimed, pending, err := jobIngestDispatched(ctx, tx, jobs, room)
	if err != nil {
		return ingested{}, err
	}
	envs, _, _, err := s.dispatched(ctx, claimed, spans, m)
	if err != nil {
		return ingested{}, err
	}
	return ingested{inserted: len(claimed) + pending, runJobs: envs, settled: pending == 0}, nil
}

// ingestRoom takes the dispatch lock, unless a job is due, and returns
// how many new jobs the ingest may dispatch: min(BatchSize, MaxInFlight
// - running). It is 0 or less (dispatch none, and owe a pass) when
// dispatch is paused, a job is due or no slot is free.
func (s *Service) ingestRoom(ctx context.Context, tx pgx.Tx) (int, error) {
	if s.cfg.MaxInFlight <= 0 {
		return -1, nil
	}
	// A job due already means no dispatch here: then the lock is not
	// taken, so that passes do not wait for this transaction. The
	// counts that decide are read after the lock is held (a pass or
	// ingest that committed meanwhile released it only after its jobs
	// became visible).
	var locked bool
	if err := tx.QueryRow(ctx, `
		SELECT CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE status = 'PENDING' AND attempts = 0 AND next_run_at <= now())
		              OR EXISTS (SELECT 1 FROM jobs WHERE status = 'PENDING' AND attempts > 0 AND next_run_at <= now())
		            THEN false ELSE (SELECT true FROM pg_advisory_xact_lock($1)) END`, dispatchLockKey).Scan(&locked); err != nil {
		return 0, fmt.Errorf("scheduler: take the dispatch lock: %w", err)
	}
	if !locked {
		return -1, nil
	}
	running, freshDue, retryDue, err := jobDueCounts(ctx, tx, 1)
	if err != nil || freshDue+retryDue > 0 {
		return -1, err
	}
	return min(s.cfg.BatchSize, s.cfg.MaxInFlight-running), nil
}

// applyResults applies the results whose event IDs are new to the jobs'
// current attempts, and returns the dead letters they cause. Their
// metrics go to m.
func (s *Service) applyResults(ctx context.Context, tx pgx.Tx, results []inbound, m *metrics.Pending) ([]envelope.Envelope, error) {
	if len(results) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(results))
	for _, in := range results {
		ids = append(ids, in.Env.EventID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	isNew, err := processedEventInsertMany(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	var todo []inbound
	for _, in := range results {
		if !isNew[in.Env.EventID] {
			s.log.DebugContext(trace.With(ctx, in.Env.TraceID, in.Env.JobID), "duplicate result ignored",
				"eventId", in.Env.EventID, "type", in.Env.Type, "attempt", in.Result.Attempt)
			continue
		}
		delete(isNew, in.Env.EventID) // the same event twice in one batch
		todo = append(todo, in)
	}
	if len(todo) == 0 {
		return nil, nil
	}
	jobIDs := make([]string, 0, len(todo))
	for _, in := range todo {
		jobIDs = append(jobIDs, in.Env.JobID)
	}
	slices.Sort(jobIDs)
	jobs, err := jobLockMany(ctx, tx, slices.Compact(jobIDs))
	if err != nil {
		return nil, err
	}
	b := s.newOutcomeBatch(m)
	for _, in := range todo {
		j := jobs[in.Env.JobID]
		if j == nil {
			s.log.WarnContext(trace.With(ctx, in.Env.TraceID, in.Env.JobID), "result for an unknown job ignored",
				"eventId", in.Env.EventID, "type", in.Env.Type, "attempt", in.Result.Attempt)
			continue
		}
		b.add(ctx, j, resultOutcome(in))
	}
	return b.write(ctx, tx)
}

// resultOutcome turns a result event into an attempt outcome.
func resultOutcome(in inbound) attemptOutcome {
	r := in.Result
	d := max(r.DurationMs, 0)
	o := attemptOutcome{Attempt: r.Attempt, Outcome: OutcomeCompleted, DurationMs: &d, EventID: in.Env.EventID}
	if in.Env.Type == envelope.TypeJobFailed {
		o.Outcome = OutcomeFailed
		o.ErrorCode, o.Error, o.Permanent = pgtext.Clean(r.ErrorCode, 200), pgtext.Clean(r.Error, envelope.MaxErrorBytes), r.Permanent
		switch {
		case r.ParkUntil != nil && !r.Permanent:
			o.Outcome, o.ParkUntil, o.AwaitCallback = OutcomeParked, *r.ParkUntil, r.AwaitCallback
		case r.Yielded && !r.Permanent:
			o.Outcome = OutcomeYielded
		}
	}
	return o
}
