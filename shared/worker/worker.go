package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/ssrf"
	"github.com/jobweaver/jobweaver/shared/step"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// Service is the worker.
type Service struct {
	cfg     Config
	pool    *pgxpool.Pool
	relay   *outbox.Relay
	log     *slog.Logger
	http    *http.Client
	handler http.Handler
	metrics *metrics.Emitter
	// triggers routes Handle's payloads by their trigger.
	triggers trigger.Router
	// slots bounds the attempts running at once, by class (slots.go).
	slots *slots
	// pruner paces the pruning of checkpoints (prune.go).
	pruner pruner
	// lastSweep is when this process last swept the outbox for rows a
	// failed or crashed publish left (unix nanoseconds; report.go).
	lastSweep atomic.Int64
}

// New validates cfg and builds the worker from it and its connections.
// deps.Pool and deps.Relay are required; a bad field is an error naming
// its variable (a bad HTTPAllowlist entry: WORKER_HTTP_ALLOWLIST and the
// entry).
func New(cfg Config, deps *wiring.Deps) (*Service, error) {
	if deps == nil || deps.Pool == nil || deps.Relay == nil {
		return nil, errors.New("worker: deps need a Pool and a Relay")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	client, err := ssrf.NewClient(cfg.HTTPAllowlist, time.Duration(step.MaxHTTPTimeout)*time.Millisecond+5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	log := deps.Log
	if log == nil {
		log = logging.Discard()
	}
	m := cfg.Metrics
	if m == nil {
		m = metrics.ForMode(cfg.MetricsMode, os.Stdout, "worker")
	}
	s := &Service{cfg: cfg, pool: deps.Pool, relay: deps.Relay, log: log, http: client, metrics: m,
		slots: newSlots(cfg.Concurrency, cfg.IOConcurrency)}
	s.handler = s.routes()
	s.triggers = trigger.Router{Name: "worker", Kafka: s.HandleKafka, HTTP: s.handler}
	// What a killed predecessor sent but never deleted (a publish deletes
	// its rows up to 50 ms later), or committed and never sent, goes out
	// once sweepAge after the start, as the api's does, without waiting
	// for a run-job batch, which may never come.
	time.AfterFunc(sweepAge, s.startSweep)
	return s, nil
}

// startSweep publishes the rows at least sweepAge old, once; a failure is
// only logged (the rows stay for the batches' sweeps).
func (s *Service) startSweep() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n, err := s.relay.DrainOlder(ctx, sweepAge); err != nil {
		s.log.Warn("outbox sweep at start failed; the rows stay for the next sweep", "published", n, "error", err.Error())
	} else if n > 0 {
		s.log.Info("outbox sweep at start published result events an earlier process left", "published", n)
	}
}

// Handle is the Lambda entry point (trigger.Router): Kafka events go to
// HandleKafka, API Gateway v2 events to the internal HTTP routes.
func (s *Service) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	return s.triggers.Handle(ctx, payload)
}

// HandleKafka runs a batch of run-job records; see the package doc. It
// returns an error only when the batch must be redelivered: the database
// is unreachable or the outbox could not be drained.
func (s *Service) HandleKafka(ctx context.Context, ev events.KafkaEvent) error {
	recs := kafka.Flatten(ev)
	if len(recs) == 0 {
		return nil
	}
	defer s.metrics.Flush()
	s.metrics.Value("BatchSize", float64(len(recs)), metrics.Count)
	var (
		runs   []*task
		poison []envelope.Envelope
		seen   = make(map[string]bool, len(recs))
		now    = time.Now().UTC()
	)
	for _, rec := range recs {
		t := decodeRecord(rec, s.cfg.Types)
		switch {
		case t.poison != nil:
			dl := t.deadLetter(now)
			s.log.WarnContext(ctx, "poison record sent to the dead-letter topic", "topic", rec.Topic,
				"partition", rec.Partition, "offset", rec.Offset, "eventId", dl.EventID, "error", t.poison.Error())
			poison = append(poison, dl)
		case seen[t.eventID]:
			// the same run-job twice in one batch: run it once
		default:
			seen[t.eventID] = true
			runs = append(runs, t)
		}
	}

	redelivered := false
	if len(runs) > 0 {
		done, err := s.finished(ctx, runs)
		if err != nil {
			return err
		}
		if len(done) > 0 {
			redelivered = true
			fresh := runs[:0]
			for _, t := range runs {
				if done[t.eventID] {
					s.log.DebugContext(ctx, "run-job already finished; skipped", "eventId", t.eventID, "jobId", t.jobID)
					continue
				}
				fresh = append(fresh, t)
			}
			runs = fresh
		}
		s.loadBatchCheckpoints(ctx, runs)
	}

	rep := s.newReporter(ctx, len(runs), poison, redelivered)
	noClaim := s.runBatch(ctx, runs, rep)
	err := rep.close()
	s.gaugeOutboxBacklog(ctx)
	s.maybePrune(ctx)
	if err != nil {
		return err
	}
	if noClaim > 0 {
		// The batch is delivered again: finished attempts are skipped,
		// and these are asked for again.
		return fmt.Errorf("worker: %d attempts could not be started (the scheduler did not answer)", noClaim)
	}
	return nil
}

// countAttempts records the metrics of stored results: each attempt's
// duration and outcome by job type, and the poison records.
func (s *Service) countAttempts(runs []*task, outs []outcome, poison int) {
	for i, t := range runs {
		jt := metrics.Dim("JobType", t.job.JobType)
		r := outs[i].result
		s.metrics.Value("ExecutionDuration", float64(r.FinishedAt.Sub(r.StartedAt).Microseconds())/1000, metrics.Milliseconds, jt)
		if outs[i].status == StatusCompleted {
			s.metrics.Count("AttemptsSucceeded", 1, jt)
		} else {
			s.metrics.Count("AttemptsFailed", 1, jt)
		}
	}
	s.metrics.Count("PoisonRecords", poison)
}

// gaugeOutboxBacklog records the outbox rows left after a drain: more
// than a few means publishing falls behind or fails.
func (s *Service) gaugeOutboxBacklog(ctx context.Context) {
	if !s.metrics.Enabled() {
		return
	}
	if n, _, err := outbox.Backlog(ctx, s.pool); err == nil {
		s.metrics.Gauge("OutboxBacklog", float64(n), metrics.Count)
	}
	if n, err := outbox.Parked(ctx, s.pool); err == nil {
		s.metrics.Gauge("OutboxParked", float64(n), metrics.Count)
	}
}

// HTTPHandler serves the internal routes.
func (s *Service) HTTPHandler() http.Handler { return s.handler }
