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
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/internalhttp"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/lag"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/ratelimit"
	"github.com/jobweaver/jobweaver/shared/tracing"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// Defaults of Config.
const (
	DefaultBodyLimit   = 256 << 10 // 262144 bytes
	DefaultPageSizeMax = 100
)

// Config tunes the service. Start from DefaultConfig or ConfigFromEnv;
// New fills zero fields with their defaults and validates the result.
type Config struct {
	// BodyLimit is the largest accepted submission body, in bytes (1 KiB
	// to 6 MiB, the Lambda payload limit).
	BodyLimit int64
	// PageSizeMax caps the size query parameter of every list (1 to
	// 1000).
	PageSizeMax int
	// DefaultPageSize is the size of a page when the request names none
	// (default internalapi.DefaultPageSize, the original API's; at most
	// PageSizeMax).
	DefaultPageSize int
	// MetricsMode is METRICS (metrics.ModeFromEnv): metrics.ModeEMF writes
	// the api's metrics to stdout, metrics.ModeOff or "" none. See
	// docs/metrics.md.
	MetricsMode string
	// Metrics, when set, receives the api's metrics instead (tests).
	Metrics *metrics.Emitter
	// Source is what GET /api/system says the platform runs on:
	// SourceLocal or SourceAWS (ConfigFromEnv: aws inside Lambda, local
	// elsewhere; New fills local).
	Source string
	// Lag reads the event-source mappings' consumer lag for GET
	// /api/system (lag.Kafka locally, lag.CloudWatch in AWS); nil leaves
	// that part null, with an error saying no reader is configured.
	Lag lag.Reader
	// Auth is API_AUTH: AuthNone (every request is anonymous and may do
	// anything), AuthKeys (API keys and roles), AuthJWT (JWTs from
	// JWTIssuer) or AuthKeysJWT (both); see docs/security.md.
	Auth string
	// JWTIssuer is AUTH_JWT_ISSUER: the OIDC issuer URL whose tokens are
	// accepted (required with AuthJWT and AuthKeysJWT).
	JWTIssuer string
	// JWTAudience is AUTH_JWT_AUDIENCE: one audience or several,
	// comma-separated (auth.ParseAudiences); a token's aud must contain
	// one of them (or, without aud, its client_id must be one, as in
	// Cognito access tokens); required with JWTs.
	JWTAudience string
	// JWTRoleClaim is AUTH_JWT_ROLE_CLAIM: the claim (a string or a list)
	// whose values name roles (default auth.DefaultRoleClaim).
	JWTRoleClaim string
	// JWTScopeRoles is AUTH_JWT_SCOPE_ROLES: scope=role pairs, comma
	// separated (auth.ParseScopeRoles), for tokens with scopes but no
	// groups (client credentials). Empty maps none.
	JWTScopeRoles string
	// JWTClient fetches the issuer's discovery document and keys; nil is
	// a plain client. In AWS it serves the stack's copy of the user
	// pool's keys (shared/oidcstatic; functions/api).
	JWTClient *http.Client
	// AdminKey is API_ADMIN_KEY: a key (auth.Valid) stored as an admin key
	// at start unless its hash is stored already, so that scripts and
	// tests can bootstrap. Empty seeds none.
	AdminKey string
	// KeyCacheTTL (API_KEY_CACHE_TTL) is how long each api process
	// remembers a key lookup, so how long a revoked key may still work
	// (at most MaxKeyCacheTTL).
	KeyCacheTTL time.Duration
	// RateLimit is API_RATE_LIMIT: each caller's requests per second
	// (0, the default: off), shared by every api process through the
	// database (shared/ratelimit); a key may carry its own.
	RateLimit float64
	// RateBurst is API_RATE_BURST: how many requests a caller may make at
	// once (0: twice RateLimit).
	RateBurst int
	// MaxInFlight is API_MAX_IN_FLIGHT: the requests one process serves at
	// once (default DefaultMaxInFlight); past it, 503 API.OVERLOADED with
	// Retry-After, health aside (shed.go).
	MaxInFlight int
}

// DefaultConfig returns the defaults ConfigFromEnv starts from and New
// fills zero fields with.
func DefaultConfig() Config {
	return Config{
		BodyLimit:       DefaultBodyLimit,
		PageSizeMax:     DefaultPageSizeMax,
		DefaultPageSize: internalapi.DefaultPageSize,
		MetricsMode:     metrics.ModeOff,
		Auth:            AuthNone,
		JWTRoleClaim:    auth.DefaultRoleClaim,
		KeyCacheTTL:     DefaultKeyCacheTTL,
		MaxInFlight:     DefaultMaxInFlight,
	}
}

// ConfigFromEnv reads API_BODY_LIMIT_BYTES (default 262144, 1 KiB to
// 6 MiB, the Lambda payload limit), API_PAGE_SIZE_MAX (default 100, 1 to
// 1000), METRICS, API_AUTH (none, keys, jwt or keys,jwt, default none),
// API_ADMIN_KEY, API_KEY_CACHE_TTL (default 10s, 1ms to 10s),
// AUTH_JWT_ISSUER, AUTH_JWT_AUDIENCE, AUTH_JWT_ROLE_CLAIM (default
// cognito:groups), AUTH_JWT_SCOPE_ROLES, API_RATE_LIMIT (default 0, off)
// API_RATE_BURST (default twice the limit) and API_MAX_IN_FLIGHT (default
// 256, 1 to 100000). A bad value is recorded in env.Err.
func ConfigFromEnv(env *config.Env) Config {
	d := DefaultConfig()
	return Config{
		BodyLimit:   int64(env.Int("API_BODY_LIMIT_BYTES", int(d.BodyLimit), 1<<10, 6<<20)),
		PageSizeMax: env.Int("API_PAGE_SIZE_MAX", d.PageSizeMax, 1, 1000),
		MetricsMode: metrics.ModeFromEnv(env),
		Source:      sourceFromEnv(env),
		Auth:        env.OneOf("API_AUTH", d.Auth, AuthNone, AuthKeys, AuthJWT, AuthKeysJWT),
		AdminKey:    strings.TrimSpace(env.String("API_ADMIN_KEY", "")),
		KeyCacheTTL: env.Duration("API_KEY_CACHE_TTL", d.KeyCacheTTL, time.Millisecond, MaxKeyCacheTTL),

		JWTIssuer:     strings.TrimSpace(env.String("AUTH_JWT_ISSUER", "")),
		JWTAudience:   strings.TrimSpace(env.String("AUTH_JWT_AUDIENCE", "")),
		JWTRoleClaim:  strings.TrimSpace(env.String("AUTH_JWT_ROLE_CLAIM", d.JWTRoleClaim)),
		JWTScopeRoles: strings.TrimSpace(env.String("AUTH_JWT_SCOPE_ROLES", "")),
	}.rateLimitFromEnv(env).maxInFlightFromEnv(env).withDefaults()
}

// sourceFromEnv is SourceAWS inside Lambda (AWS_LAMBDA_FUNCTION_NAME is
// set), else SourceLocal.
func sourceFromEnv(env *config.Env) string {
	if env.String("AWS_LAMBDA_FUNCTION_NAME", "") != "" {
		return SourceAWS
	}
	return SourceLocal
}

// withDefaults fills zero fields from DefaultConfig and keeps the default
// page size within the cap.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.BodyLimit == 0 {
		c.BodyLimit = d.BodyLimit
	}
	if c.PageSizeMax == 0 {
		c.PageSizeMax = d.PageSizeMax
	}
	if c.DefaultPageSize == 0 {
		c.DefaultPageSize = d.DefaultPageSize
	}
	c.DefaultPageSize = min(c.DefaultPageSize, c.PageSizeMax)
	if c.Source == "" {
		c.Source = SourceLocal
	}
	if c.Auth == "" {
		c.Auth = d.Auth
	}
	if c.KeyCacheTTL == 0 {
		c.KeyCacheTTL = d.KeyCacheTTL
	}
	if c.JWTRoleClaim == "" {
		c.JWTRoleClaim = d.JWTRoleClaim
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = d.MaxInFlight
	}
	return c.rateLimitDefaults()
}

// validate reports the first bad field, named by its variable.
func (c Config) validate() error {
	switch {
	case c.BodyLimit < 1<<10 || c.BodyLimit > 6<<20:
		return config.Invalid("API_BODY_LIMIT_BYTES", "from 1024 to 6291456", c.BodyLimit)
	case c.PageSizeMax < 1 || c.PageSizeMax > 1000:
		return config.Invalid("API_PAGE_SIZE_MAX", "from 1 to 1000", c.PageSizeMax)
	case c.DefaultPageSize < 1:
		return config.Invalid("DefaultPageSize", "at least 1", c.DefaultPageSize)
	case c.Source != SourceLocal && c.Source != SourceAWS:
		return config.Invalid("Source", "local or aws", c.Source)
	case c.Auth != AuthNone && c.Auth != AuthKeys && c.Auth != AuthJWT && c.Auth != AuthKeysJWT:
		return config.Invalid("API_AUTH", "none, keys, jwt or keys,jwt", c.Auth)
	case c.JWTOn() && !issuerURL(c.JWTIssuer):
		return config.Invalid("AUTH_JWT_ISSUER", "the issuer's URL (https://..., or http:// for a local issuer) with API_AUTH="+c.Auth, c.JWTIssuer)
	case c.JWTOn() && audiencesErr(c.JWTAudience) != nil:
		return config.Invalid("AUTH_JWT_AUDIENCE", "the audiences (or Cognito app client IDs) tokens are for, comma-separated, none empty, with API_AUTH="+c.Auth+" ("+audiencesErr(c.JWTAudience).Error()+")", c.JWTAudience)
	case c.AdminKey != "" && !auth.Valid(c.AdminKey):
		// The value is a secret: never echoed.
		return config.Invalid("API_ADMIN_KEY", "an API key (jw_ and 49 characters with a valid checksum)", "a value that is not")
	case c.KeyCacheTTL <= 0 || c.KeyCacheTTL > MaxKeyCacheTTL:
		return config.Invalid("API_KEY_CACHE_TTL", "from 1ms to 10s", c.KeyCacheTTL)
	}
	if _, err := auth.ParseScopeRoles(c.JWTScopeRoles); err != nil {
		return config.Invalid("AUTH_JWT_SCOPE_ROLES", "scope=role pairs, comma separated, roles viewer, operator or admin ("+err.Error()+")", c.JWTScopeRoles)
	}
	if err := c.validateRateLimit(); err != nil {
		return err
	}
	if err := c.validateMaxInFlight(); err != nil {
		return err
	}
	return metrics.CheckMode(c.MetricsMode)
}

// audiencesErr is why AUTH_JWT_AUDIENCE is not a list of audiences.
func audiencesErr(s string) error {
	_, err := auth.ParseAudiences(s)
	return err
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
	keys    *keyCache
	jwt     *auth.JWTVerifier // nil unless cfg.JWTOn()
	limiter *rateLimiter
	shed    shedder           // API_MAX_IN_FLIGHT
	tracing *tracing.Provider // nil: none; its Store serves GET /api/jobs/{id}/trace
	// lastSweep is when publish last swept the outbox (UnixNano); a sweep
	// runs at most every sweepEvery, for rows older than sweepAge.
	lastSweep            atomic.Int64
	sweepEvery, sweepAge time.Duration
}

// New validates cfg and builds the service over deps (pool, relay and logger are used) and
// inv, which reaches the scheduler, worker and dlq functions.
func New(cfg Config, deps *wiring.Deps, inv invoke.Invoker) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
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
		m = metrics.ForMode(cfg.MetricsMode, os.Stdout, "api")
	}
	s := &Service{
		cfg:   cfg,
		pool:  deps.Pool,
		relay: deps.Relay,
		inv:   inv,
		log:   log,
		mux:   http.NewServeMux(),

		sweepEvery: sweepEvery,
		sweepAge:   sweepAge,
		metrics:    m,
		keys:       newKeyCache(cfg.KeyCacheTTL),
		tracing:    deps.Tracing,
	}
	s.limiter = s.newRateLimiter(ratelimit.PG{Pool: s.pool})
	s.shed.max = int64(cfg.MaxInFlight)
	if cfg.JWTOn() {
		scopes, _ := auth.ParseScopeRoles(cfg.JWTScopeRoles) // validated
		audiences, _ := auth.ParseAudiences(cfg.JWTAudience) // validated
		s.jwt = auth.NewJWTVerifier(auth.JWTConfig{
			Issuer: cfg.JWTIssuer, Audiences: audiences,
			RoleClaim: cfg.JWTRoleClaim, ScopeRoles: scopes,
			Client: cfg.JWTClient,
		})
	}
	if cfg.AdminKey != "" {
		ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		err := seedAdminKey(ctx, s.pool, cfg.AdminKey)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	for _, rt := range s.routes() {
		h := s.endpoint(rt.handle)
		if rt.method == http.MethodGet && strings.HasPrefix(rt.path, "/api/") {
			h = withETag(h) // every GET under /api: ETag and 304
		}
		pattern := rt.method + " " + rt.path
		s.mux.Handle(pattern, s.authorize(pattern, h)) // the role first
	}
	s.routed = internalhttp.ErrorBodies(s.mux, namespace, s.log)
	s.handler = http.HandlerFunc(s.serve)
	s.router = trigger.Router{Name: "api", HTTP: s.handler}
	// What a crashed predecessor published but never deleted, or never
	// published, goes out (once) without waiting for a request's sweep.
	s.sweepLater(context.Background(), 1)
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
		{http.MethodGet, "/api/jobs/{id}/items", s.listItems},
		{http.MethodGet, "/api/jobs/{id}/history", s.jobHistory},
		{http.MethodPost, "/api/jobs/{id}/callbacks/{token}", s.postCallback},
		{http.MethodGet, "/api/jobs/{id}/trace", s.jobTrace},
		{http.MethodGet, "/api/dlq", s.listDeadLetters},
		{http.MethodGet, "/api/dlq/{id}", s.getDeadLetter},
		{http.MethodPost, "/api/dlq/{id}/retry", s.retryDeadLetter},
		{http.MethodPost, "/api/dlq/{id}/dismiss", s.dismissDeadLetter},
		{http.MethodPost, "/api/dlq/retry", s.retryDeadLetters},
		{http.MethodPost, "/api/dlq/dismiss", s.dismissDeadLetters},
		{http.MethodGet, "/api/operations/{id}", s.getOperation},
		{http.MethodGet, "/api/system", s.system},
		{http.MethodPost, "/api/keys", s.createKey},
		{http.MethodGet, "/api/keys", s.listKeys},
		{http.MethodDelete, "/api/keys/{id}", s.revokeKey},
		{http.MethodGet, "/api/audit", s.listAudit},
		{http.MethodGet, "/api/whoami", s.whoami},
		{http.MethodGet, "/health", s.health},
		{http.MethodGet, "/actuator/health", s.health},
	}
}

// Endpoint is a public route: its method and ServeMux path.
type Endpoint struct{ Method, Path string }

// Endpoints lists every public route, as the service registers them (for
// tests and documentation checks).
func Endpoints() []Endpoint {
	var out []Endpoint
	for _, rt := range (&Service{}).routes() {
		out = append(out, Endpoint{rt.method, rt.path})
	}
	return out
}
