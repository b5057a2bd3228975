// Package api is the public REST service of JobWeaver: it accepts job
// submissions (stored with a JobCreated event in its transactional outbox)
// and answers queries by merging its own records with the live state that
// the scheduler, worker and dlq functions serve on their internal routes.
//
// The same handler runs in Lambda (Handle, fed API Gateway HTTP API v2
// events) and in the local stack (HTTPHandler).
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/internalhttp"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// Defaults of Config.
const (
	DefaultBodyLimit   = 256 << 10 // 262144 bytes
	DefaultPageSizeMax = 100
)

// Config tunes the service.
type Config struct {
	// BodyLimit is the largest accepted submission body, in bytes.
	BodyLimit int64
	// PageSizeMax caps the size query parameter of every list.
	PageSizeMax int
	// DefaultPageSize is the size of a page when the request names none
	// (default internalapi.DefaultPageSize, the original API's).
	DefaultPageSize int
	// Metrics receives the api's metrics; nil means metrics.FromEnv (the
	// METRICS variable). See docs/metrics.md.
	Metrics *metrics.Emitter
}

// ConfigFromEnv reads API_BODY_LIMIT_BYTES (default 262144, 1 KiB to
// 6 MiB, the Lambda payload limit) and API_PAGE_SIZE_MAX (default 100,
// 1 to 1000). A bad value is recorded in env.Err.
func ConfigFromEnv(env *config.Env) Config {
	return Config{
		BodyLimit:   int64(env.Int("API_BODY_LIMIT_BYTES", DefaultBodyLimit, 1<<10, 6<<20)),
		PageSizeMax: env.Int("API_PAGE_SIZE_MAX", DefaultPageSizeMax, 1, 1000),
	}.withDefaults()
}

// withDefaults fills zero fields and keeps the default page size within
// the cap.
func (c Config) withDefaults() Config {
	if c.BodyLimit <= 0 {
		c.BodyLimit = DefaultBodyLimit
	}
	if c.PageSizeMax <= 0 {
		c.PageSizeMax = DefaultPageSizeMax
	}
	if c.DefaultPageSize <= 0 {
		c.DefaultPageSize = internalapi.DefaultPageSize
	}
	c.DefaultPageSize = min(c.DefaultPageSize, c.PageSizeMax)
	return c
}

// Service is the api function.
type Service struct {
	cfg     Config
	pool    *pgxpool.Pool
	relay   *outbox.Relay
	inv     invoke.Invoker
	log     *slog.Logger
	mux     *http.ServeMux
	routed  http.Handler // mux with error bodies for unmatched requests
	handler http.Handler
	router  trigger.Router
	metrics *metrics.Emitter
	// lastSweep is when publish last swept the outbox (UnixNano); a sweep
	// runs at most every sweepEvery, for rows older than sweepAge.
	lastSweep            atomic.Int64
	sweepEvery, sweepAge time.Duration
}

// New builds the service over deps (pool, relay and logger are used) and
// inv, which reaches the scheduler, worker and dlq functions.
func New(cfg Config, deps *wiring.Deps, inv invoke.Invoker) (*Service, error) {
	switch {
	case deps == nil || deps.Pool == nil:
		return nil, errors.New("api: deps must have a database pool")
	case deps.Relay == nil:
		return nil, errors.New("api: deps must have an outbox relay")
	case inv == nil:
		return nil, errors.New("api: an invoker is required")
	}
	log := deps.Log
	if log == nil {
		log = logging.New("api", nil)
	}
	m := cfg.Metrics
	if m == nil {
		var err error
		if m, err = metrics.FromEnv("api"); err != nil {
			return nil, err
		}
	}
	s := &Service{
		cfg:   cfg.withDefaults(),
		pool:  deps.Pool,
		relay: deps.Relay,
		inv:   inv,
		log:   log,
		mux:   http.NewServeMux(),

		sweepEvery: sweepEvery,
		sweepAge:   sweepAge,
		metrics:    m,
	}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.method+" "+rt.path, s.endpoint(rt.handle))
	}
	s.routed = internalhttp.ErrorBodies(s.mux, namespace, s.log)
	s.handler = http.HandlerFunc(s.serve)
	s.router = trigger.Router{Name: "api", HTTP: s.handler}
	return s, nil
}

// HTTPHandler returns the service as a net/http handler, middleware
// included.
func (s *Service) HTTPHandler() http.Handler { return s.handler }

// Handle is the Lambda entry point (trigger.Router). It serves API
// Gateway HTTP API (v2) events; any other payload is an error.
func (s *Service) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	return s.router.Handle(ctx, payload)
}

// route is one public endpoint.
type route struct {
	method, path string
	handle       func(http.ResponseWriter, *http.Request) error
}

// routes lists every public endpoint; docs/openapi.yaml documents each.
func (s *Service) routes() []route {
	return []route{
		{http.MethodPost, "/api/jobs", s.submitJob},
		{http.MethodPost, "/api/jobs/batch", s.submitBatch},
		{http.MethodGet, "/api/jobs", s.listJobs},
		{http.MethodGet, "/api/jobs/{id}", s.getJob},
		{http.MethodDelete, "/api/jobs/{id}", s.cancelJob},
		{http.MethodGet, "/api/jobs/{id}/executions", s.listExecutions},
		{http.MethodGet, "/api/dlq", s.listDeadLetters},
		{http.MethodGet, "/api/dlq/{id}", s.getDeadLetter},
		{http.MethodGet, "/health", s.health},
		{http.MethodGet, "/actuator/health", s.health},
	}
}
