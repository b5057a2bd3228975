package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// Service is the scheduler function.
type Service struct {
	cfg   Config
	pool  *pgxpool.Pool
	relay *outbox.Relay
	log   *slog.Logger
	http  http.Handler
	rnd   func() float64 // uniform in [0, 1), for backoff jitter
	// triggers routes Handle's payloads by their trigger.
	triggers trigger.Router

	metrics     *metrics.Emitter
	lastBacklog atomic.Int64 // unix nanoseconds of the last backlog measurement

	lastPrune atomic.Int64 // unix nanoseconds of the last prune
	lastSweep atomic.Int64 // unix nanoseconds of HandleKafka's last full drain (publish)

	// dispatchSoon's state: a pass of HandleKafka running, and one asked for.
	dispatching    sync.Mutex
	dispatchWanted atomic.Bool

	throughput      throughputCache // GET /internal/stats' settled minutes
	lastDLQMaintain atomic.Int64    // unix nanoseconds of the last start of the dlq's maintenance
}

// New validates cfg and builds the service on deps (Pool, Relay and Log
// are required).
func New(cfg Config, deps *wiring.Deps) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	switch {
	case deps == nil || deps.Pool == nil:
		return nil, errors.New("scheduler: deps.Pool is required")
	case deps.Relay == nil:
		return nil, errors.New("scheduler: deps.Relay is required")
	}
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := cfg.Metrics
	if m == nil {
		m = metrics.ForMode(cfg.MetricsMode, os.Stdout, "scheduler")
	}
	s := &Service{cfg: cfg, pool: deps.Pool, relay: deps.Relay, log: log, rnd: rand.Float64, metrics: m}
	s.http = s.routes()
	s.triggers = trigger.Router{
		Name:     "scheduler",
		Kafka:    s.HandleKafka,
		Schedule: func(ctx context.Context) (any, error) { return s.Tick(ctx) },
		HTTP:     s.http,
	}
	return s, nil
}

func (s *Service) now() time.Time {
	if s.cfg.Clock != nil {
		return s.cfg.Clock()
	}
	return time.Now()
}

// Handle is the Lambda entry point. It routes a raw payload by its
// trigger (trigger.Router): Kafka to HandleKafka, a schedule to Tick, an
// API Gateway v2 request to HTTPHandler.
func (s *Service) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	return s.triggers.Handle(ctx, payload)
}
