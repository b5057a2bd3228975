package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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
// job-failed records (one batch may mix topics). It ingests new jobs,
// applies new results and dead-letters poison records in one transaction,
// then runs a dispatch pass (dispatchSoon) and drains the outbox. An error means the
// batch should be delivered again; everything is idempotent.
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
	if len(recs) > 0 {
		if err := s.consume(ctx, created, results, poison); err != nil {
			return err
		}
		s.metrics.Count("PoisonRecords", len(poison))
	}
	if err := s.dispatchSoon(ctx); err != nil {
		return err
	}
	_, err := s.relay.Drain(ctx)
	s.gaugeOutboxBacklog(ctx)
	if err != nil {
		return fmt.Errorf("scheduler: relay outbox: %w", err)
	}
	return nil
}

// consume writes a parsed batch in one transaction.
func (s *Service) consume(ctx context.Context, created, results []inbound, poison []envelope.Envelope) error {
	var m metrics.Pending // the outcomes' metrics count once the transaction commits
	spans := startConsumeSpans(ctx, created, results)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n, err := s.ingest(ctx, tx, created)
		if err != nil {
			return err
		}
		dead, err := s.applyResults(ctx, tx, results, &m)
		if err != nil {
			return err
		}
		spans.stamp(dead)
		if err := outbox.Add(ctx, tx, append(poison, dead...)...); err != nil {
			return err
		}
		s.log.DebugContext(ctx, "batch consumed", "created", len(created), "ingested", n,
			"results", len(results), "poison", len(poison), "deadLetters", len(dead))
		return nil
	})
	spans.end(err)
	if err == nil {
		s.metrics.Commit(&m)
	}
	return err
}

// ingest inserts the jobs of job-created events as PENDING; a job that
// exists (a redelivery, or a job cancelled before it arrived) is left as
// it is.
func (s *Service) ingest(ctx context.Context, tx pgx.Tx, created []inbound) (int64, error) {
	if len(created) == 0 {
		return 0, nil
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
	return jobInsertMany(ctx, tx, jobs)
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
