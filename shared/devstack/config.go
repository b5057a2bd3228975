package devstack

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/jobweaver/jobweaver/shared/api"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/pgserver"
	"github.com/jobweaver/jobweaver/shared/scheduler"
	"github.com/jobweaver/jobweaver/shared/tracing"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// DefaultDBMaxConns is DB_MAX_CONNS's default: each function's pool opens
// up to this many connections, as its load asks. 20 rather than 10: with
// 10, one-job POSTs queued for the api's pool at ~1,900 jobs/s, and at
// 2,000/s offered the front shed some (docs/performance.md, fourth
// session).
const DefaultDBMaxConns = 20

// Config is the local stack's configuration.
type Config struct {
	DataDir     string // DATA_DIR: kafka/ and postgres/ live here
	DatabaseURL string // DATABASE_URL: the server to use (or start privately)
	// Kafka is the external brokers (KAFKA_BROKERS) and how every client
	// of the stack connects to them (KAFKA_AUTH and its settings, see
	// kafka.ConfigFromEnv). No Brokers means the embedded broker, which is
	// plaintext whatever the other fields say. Each client sets its own
	// ClientID.
	Kafka kafka.Config
	// KafkaPort is the embedded broker's port if it is free (a random one
	// otherwise); 0 takes a random port at once.
	KafkaPort int
	// KafkaSyncWrites makes the embedded broker fsync every batch
	// (KAFKA_SYNC_WRITES); a hard kill is survived either way.
	KafkaSyncWrites bool

	// The HTTP fronts' addresses, on loopback by default. The internal
	// fronts answer only loopback clients whatever their address.
	APIAddr       string // API_ADDR
	SchedulerAddr string // SCHEDULER_ADDR: the scheduler's internal routes
	WorkerAddr    string // WORKER_ADDR: the worker's internal routes
	// DashboardDir (DASHBOARD_DIR) is the web dashboard's build, served
	// on API_ADDR beside the API (see Site); empty serves none.
	DashboardDir string

	TickInterval time.Duration // TICK_INTERVAL: the local EventBridge schedule
	ESMBatchSize int           // ESM_BATCH_SIZE
	// RunJobBatchSize (ESM_RUN_JOB_BATCH_SIZE) is the run-job mapping's
	// batch size (the worker's): with ESM_RUN_JOB_POLLERS invocations at
	// once it is how many attempts the worker may hold, so the default,
	// 500 with two pollers, lets 1,000 I/O-bound steps run at once
	// (WORKER_IO_CONCURRENCY).
	RunJobBatchSize int
	ESMBatchWindow  time.Duration // ESM_BATCH_WINDOW
	// ESMPollers (ESM_POLLERS) is the consumers of each mapping but the
	// run-job one: one by default, so that a function's invocations from
	// one topic run one after another, each taking what arrived during
	// the last (see DefaultESMPollers).
	ESMPollers int
	// RunJobPollers (ESM_RUN_JOB_POLLERS) is the run-job mapping's
	// consumers: two by default, so that a batch of long attempts holds
	// half of the run-job partitions, not all of them.
	RunJobPollers   int
	FunctionTimeout time.Duration // FUNCTION_TIMEOUT: deadline of every invocation but the tick and the worker's
	APIBodyLimit    int64         // API_BODY_LIMIT_BYTES
	// APIMaxConns (API_MAX_CONNS) bounds each HTTP front's client
	// connections (connlimit.go).
	APIMaxConns int
	DBMaxConns  int // DB_MAX_CONNS: pool size per function

	// WorkerTimeout (WORKER_TIMEOUT) is the deadline of the worker's
	// run-job invocations, long enough for every step the api accepts
	// (worker.CheckTimeout); a longer job yields and resumes.
	WorkerTimeout time.Duration

	// DatabasePrefix names the service databases: <prefix>_api, … .
	DatabasePrefix string
	// Logs receives the functions' JSON logs; nil means os.Stdout.
	Logs io.Writer
	// LogLevel is the functions' log level (LOG_LEVEL; zero: info).
	LogLevel slog.Level
	// PostgresOptions adjust how a Postgres server is found (tests).
	PostgresOptions []pgserver.Option

	// Remote, if set, runs the four functions outside the stack's process,
	// as Lambda would (see Remote); nil runs them in-process.
	Remote Remote

	// Tracing is the functions' OpenTelemetry settings (the OTEL_*
	// variables, tracing.LocalConfigFromEnv); in-process functions share
	// one span store. The zero value traces every job into that store;
	// ConfigFromEnv's default traces 1 % of jobs (OTEL_SDK_DISABLED=true:
	// none).
	Tracing tracing.Config

	// The services' own settings, read from the same environment.
	API       api.Config
	Scheduler scheduler.Config
	Worker    worker.Config
	DLQ       dlq.Config
}

// FunctionEnv is what the stack gives each function, by function name:
// DATABASE_URL (the function's own database), KAFKA_BROKERS and, for
// external brokers that want them, KAFKA_AUTH and its settings; the api
// also LAG_SOURCE=kafka and KAFKA_GROUP_PREFIX (GET /api/system's lag).
type FunctionEnv map[string]map[string]string

// Remote starts the functions named in env (api, scheduler, worker, dlq)
// elsewhere, such as Lambda runtime emulators or deployed functions, and
// returns the invoker that reaches them. With Config.Remote set, the
// stack provides Kafka and Postgres, creates and migrates the functions'
// databases (the deploy step), calls Remote, and then drives the
// functions only through the returned invoker: the HTTP fronts, the
// event-source mappings and the schedule invoke it, and no handler runs
// in the stack's process. If the invoker is an io.Closer, the stack
// closes it after stopping everything that invokes it.
//
// Invocations are bounded by FunctionTimeout on the caller's side (the
// tick too, so that the scheduler's own deadline decides how long a tick
// runs); it should exceed the functions' own timeouts.
type Remote func(ctx context.Context, env FunctionEnv) (invoke.Invoker, error)

// Var documents one environment variable.
type Var struct {
	Name, Default, Help string
	// Stack is true for the local stack's own variables (false: a
	// function's setting, passed through).
	Stack bool
}

// Vars lists every variable the local stack reads, its own and the
// functions'.
var Vars = []Var{
	{"DATA_DIR", ".data", "where the embedded broker keeps its log and offsets (kafka/) and a private Postgres cluster lives (postgres/)", true},
	{"DATABASE_URL", pgserver.DefaultURL, "the Postgres server to use; each function gets its own database on it. If it does not answer, a private cluster is started from the installed Postgres binaries", true},
	{"KAFKA_BROKERS", "", "external brokers (host:port,...) to use instead of the embedded broker on :9092", true},
	{"KAFKA_AUTH", "none", "with KAFKA_BROKERS: how every client connects to them: none (plaintext), tls, iam (TLS, SASL AWS_MSK_IAM) or scram (TLS, SASL SCRAM); the embedded broker is plaintext", true},
	{"KAFKA_TLS_CA_FILE", "", "with KAFKA_AUTH tls, iam or scram: PEM file of the CAs to trust instead of the system roots", true},
	{"KAFKA_SASL_MECHANISM", "scram-sha-512", "with KAFKA_AUTH=scram: scram-sha-512 or scram-sha-256", true},
	{"KAFKA_SASL_USERNAME", "", "with KAFKA_AUTH=scram: the SASL user (required)", true},
	{"KAFKA_SASL_PASSWORD", "", "with KAFKA_AUTH=scram: the SASL password (required)", true},
	{"KAFKA_SYNC_WRITES", "false", "embedded broker: fsync every batch, to survive a power cut too (a killed process loses nothing either way)", true},
	{"API_ADDR", "127.0.0.1:8080", "address of the public API; only this machine reaches it unless you name another interface (0.0.0.0:8080 or :8080: every interface, and then, with API_AUTH=none, anyone who reaches this machine can submit, read and cancel jobs; API_AUTH=keys asks for credentials)", true},
	{"SCHEDULER_ADDR", "127.0.0.1:8081", "address of the scheduler's internal routes (/internal/jobs/...); whatever the address, they answer only clients on this machine, and writes (cancel), and with API_AUTH on reads too, need the stack's internalSecret (DATA_DIR/devstack.json) in the X-Jobweaver-Internal-Secret header", true},
	{"WORKER_ADDR", "127.0.0.1:8082", "address of the worker's internal routes (/internal/executions/...); whatever the address, they answer only clients on this machine, and with API_AUTH on they need the stack's internal secret (DATA_DIR/devstack.json) in the X-Jobweaver-Internal-Secret header", true},
	{"DASHBOARD_DIR", "dashboard/dist", "the web dashboard's build (npm run build in dashboard/; make run and make build make it), served on API_ADDR at / beside the API; read at each request, so a rebuild shows on reload", true},
	{"TICK_INTERVAL", "1s", "how often the local EventBridge schedule invokes the scheduler (each tick's deadline)", true},
	{"ESM_BATCH_SIZE", "100", "event-source mappings: records per invocation at most", true},
	{"ESM_BATCH_WINDOW", "2ms", "event-source mappings: how long to wait to fill a batch", true},
	{"ESM_POLLERS", "1", "event-source mappings but the run-job one: consumer-group members per mapping (each invokes one batch at a time)", true},
	{"ESM_RUN_JOB_POLLERS", "2", "the run-job mapping's (the worker's) consumer-group members; ESM_POLLERS, when set, sets these too", true},
	{"ESM_RUN_JOB_BATCH_SIZE", "500", "the run-job mapping's (the worker's) records per invocation at most: ESM_RUN_JOB_POLLERS × this many attempts may run at once, 1,000 by default (WORKER_IO_CONCURRENCY)", true},
	{"FUNCTION_TIMEOUT", "60s", "deadline of each local invocation (HTTP and Kafka) but the worker's run-job batches", true},
	{"WORKER_TIMEOUT", "840s", "deadline of the worker's run-job batches, as in AWS; at least 631s, so that every attempt the API accepts (600 s of steps) can run", true},
	{"API_BODY_LIMIT_BYTES", "262144", "larger request bodies get 413", false},
	{"DB_MAX_CONNS", "20", "Postgres pool size per function (opened as needed)", false},
	{"LOG_LEVEL", "info", "debug, info, warn or error", false},
	{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio", "which jobs are traced: always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio; decided once per job from its trace ID (docs/tracing.md)", false},
	{"OTEL_TRACES_SAMPLER_ARG", "0.01", "the share of jobs traced by the ratio samplers: 0 to 1, or a percentage such as 1%; 1 traces every job (GET /api/jobs/{id}/trace, the console's waterfall)", false},
	{"OTEL_EXPORTER_OTLP_ENDPOINT", "", "sends spans over OTLP/HTTP (http://host:4318); empty: they are kept in process, for GET /api/jobs/{id}/trace", false},
	{"TRACE_STORE_SPANS", "100000", "spans kept in process for GET /api/jobs/{id}/trace; the oldest traces go first", false},
	{"OTEL_SDK_DISABLED", "false", "true: no tracing at all; on by default, at the default 1 %, the jobs sampled out cost their hops next to nothing (docs/tracing.md, Overhead)", false},
	{"METRICS", "off", "emf writes the functions' CloudWatch metrics as Embedded Metric Format lines on stdout; off writes none (docs/metrics.md)", false},
	{"API_PAGE_SIZE_MAX", "100", "cap on the page size of lists", false},
	{"API_AUTH", "none", "none: every caller of the API may do anything, as anonymous; keys: every route but the health checks needs an API key (Authorization: Bearer jw_...) with a role (viewer, operator, admin; docs/security.md); jwt: a JWT from AUTH_JWT_ISSUER instead; keys,jwt: either", false},
	{"API_ADMIN_KEY", "", "an API key (jw_...) stored as an admin key at start unless it is already, so that scripts and tests can bootstrap (POST /api/keys makes others)", false},
	{"API_KEY_CACHE_TTL", "10s", "how long each api process remembers a key lookup, so how long a revoked key may still work there (1ms to 10s)", false},
	{"API_RATE_LIMIT", "0", "requests per second each caller (a key, a JWT subject, or anonymous with API_AUTH=none) may make, shared by every api process through the api database; 0: off (a key's own rateLimit still applies; docs/security.md)", false},
	{"API_MAX_CONNS", "4096", "client connections each HTTP front (API_ADDR, SCHEDULER_ADDR, WORKER_ADDR) holds at most; the next 64 answer only health and 503 API.OVERLOADED with Retry-After, then close; past those it stops accepting until one closes, so that the process's descriptors stay bounded. Idle keep-alive connections close after 60 s (16 to 1000000)", true},
	{"API_MAX_IN_FLIGHT", "256", "requests each api process serves at once; past it 503 API.OVERLOADED with Retry-After, health aside (1 to 100000; docs/reliability.md)", false},
	{"API_RATE_BURST", "2 × API_RATE_LIMIT", "how many requests a caller may make at once (1 to 1000000)", false},
	{"AUTH_JWT_ISSUER", "", "with API_AUTH=jwt or keys,jwt (required): the OIDC issuer URL whose JWTs are accepted (discovery at the first request)", false},
	{"AUTH_JWT_AUDIENCE", "", "with API_AUTH=jwt or keys,jwt (required): comma-separated audiences: a JWT's aud must contain one of them (or its client_id be one, when it has no aud)", false},
	{"AUTH_JWT_ROLE_CLAIM", "cognito:groups", "the JWT claim whose values viewer, operator, admin give the caller's role (the highest wins)", false},
	{"AUTH_JWT_SCOPE_ROLES", "", "scope=role pairs for JWTs with scopes and no groups, e.g. jobweaver/read=viewer,jobweaver/write=operator", false},
	{"SCHEDULER_BATCH_SIZE", "100", "jobs claimed per dispatch pass", false},
	{"SCHEDULER_FRESH_RATIO", "0.5", "share of each dispatch batch reserved for fresh jobs", false},
	{"SCHEDULER_MAX_IN_FLIGHT", "2 × ESM_RUN_JOB_POLLERS × ESM_RUN_JOB_BATCH_SIZE", "dispatched but unfinished jobs at most: twice what the worker invocations take at once", false},
	{"SCHEDULER_LEASE", "15m", "a started attempt with no result by then is rescued as a failed attempt (the lease starts when the worker starts it)", false},
	{"SCHEDULER_QUEUE_TIMEOUT", "15m", "a dispatched attempt no worker started by then is dispatched again, uncharged", false},
	{"SCHEDULER_BACKOFF_BASE", "1s", "retry backoff base", false},
	{"SCHEDULER_BACKOFF_CAP", "300s", "retry backoff cap", false},
	{"SCHEDULER_BACKOFF_JITTER", "0.2", "retry backoff jitter (fraction)", false},
	{"SCHEDULER_TICK_MARGIN", "2s", "a tick loops dispatch passes until this long before its deadline", false},
	{"SCHEDULER_IDLE_POLL", "100ms", "pause after an idle dispatch pass", false},
	{"WORKER_CONCURRENCY", "GOMAXPROCS (the cores)", "CPU-bound attempts (a SCRIPT or COMPUTE step among their steps) the worker runs at once, across its batches (docs/performance.md, I/O concurrency)", false},
	{"WORKER_IO_CONCURRENCY", "1000", "I/O-bound attempts (SLEEP, HTTP_CALL, WEBHOOK, LOG, FAIL steps only) the worker runs at once, across its batches", false},
	{"WORKER_HTTP_ALLOWLIST", "", "CIDRs or host names HTTP_CALL may reach despite the SSRF guard", false},
	{"WEBHOOK_SIGNING_KEYS", "", "WEBHOOK jobs' signing secrets as name=secret,... (each secret 16 to 1024 bytes, no commas); a job names one in payload.signingKey (docs/job-types.md)", false},
	{"WORKER_DEADLINE_MARGIN", "1s", "steps stop this long before the invocation deadline", false},
	{"WORKER_PAGE_SIZE_MAX", "100", "cap on the page size of the worker's execution lists", false},
	{"WORKER_PARK_THRESHOLD", "2s", "a SLEEP longer than this parks its job (WAITING, no worker held) until it is due; negative: only sleeps over 5m park", false},
	{"WORKER_MAX_IDLE_YIELDS", "3", "a job cut by the deadline this many times in a row without finishing a step fails (WORKER.STEP_EXCEEDS_TIMEOUT)", false},
	{"DLQ_PAGE_SIZE_MAX", "100", "cap on the page size of the dead-letter list", false},
	{"DLQ_RETENTION", "30d", "dead letters RETRIED or DISMISSED are removed once older than this, the others once older than twice this (a Go duration or days)", false},
	{"DLQ_MAX_ENTRIES", "0", "beyond this many dead letters the oldest are removed first (0: no cap)", false},
	{"DLQ_MAINTAIN_BUDGET", "20s", "how long one run of the dlq's maintenance (bulk operations, retention) works before the next resumes", false},
	{"DLQ_WEBHOOK_URL", "", "receives new dead letters in signed batches (docs/notifications.md); empty: none", false},
	{"DLQ_WEBHOOK_SECRET", "", "the webhook's HMAC-SHA256 signing key (at least 16 bytes), required with DLQ_WEBHOOK_URL", false},
	{"DLQ_WEBHOOK_ALLOWLIST", "", "CIDRs or host names the webhook may reach despite the SSRF guard (127.0.0.1/32: a receiver on this machine)", false},
	{"DLQ_WEBHOOK_TIMEOUT", "10s", "limit of one webhook attempt", false},
	{"DLQ_NOTIFY_BATCH_SIZE", "100", "dead letters per webhook delivery at most", false},
	{"DLQ_NOTIFY_BACKOFF_BASE", "30s", "a failed delivery's first retry waits this long, doubling", false},
	{"DLQ_NOTIFY_BACKOFF_CAP", "1h", "cap on a delivery's retry wait", false},
	{"DLQ_NOTIFY_BACKOFF_JITTER", "0.2", "delivery retry jitter (fraction)", false},
	{"DLQ_NOTIFY_MAX_ATTEMPTS", "24", "attempts before a delivery is given up", false},
}

// ConfigFromEnv reads the configuration. The first bad value is reported
// as one line naming its variable.
func ConfigFromEnv(env *config.Env) (Config, error) {
	cfg := Config{
		DataDir:         env.String("DATA_DIR", ".data"),
		DatabaseURL:     env.String("DATABASE_URL", pgserver.DefaultURL),
		KafkaPort:       9092,
		KafkaSyncWrites: env.Bool("KAFKA_SYNC_WRITES", false),
		APIAddr:         env.String("API_ADDR", "127.0.0.1:8080"),
		SchedulerAddr:   env.String("SCHEDULER_ADDR", "127.0.0.1:8081"),
		WorkerAddr:      env.String("WORKER_ADDR", "127.0.0.1:8082"),
		DashboardDir:    env.String("DASHBOARD_DIR", "dashboard/dist"),
		TickInterval:    env.Duration("TICK_INTERVAL", time.Second, 10*time.Millisecond, time.Hour),
		ESMBatchSize:    env.Int("ESM_BATCH_SIZE", 100, 1, 10000),
		ESMBatchWindow:  env.Duration("ESM_BATCH_WINDOW", 2*time.Millisecond, 0, 300*time.Second),
		ESMPollers:      env.Int("ESM_POLLERS", DefaultESMPollers, 1, 64),
		// ESM_POLLERS, when set, sets the run-job mapping's too, unless
		// ESM_RUN_JOB_POLLERS says otherwise.
		RunJobPollers:   env.Int("ESM_RUN_JOB_POLLERS", env.Int("ESM_POLLERS", DefaultRunJobPollers, 1, 64), 1, 64),
		RunJobBatchSize: env.Int("ESM_RUN_JOB_BATCH_SIZE", DefaultRunJobBatchSize, 1, 10000),
		FunctionTimeout: env.Duration("FUNCTION_TIMEOUT", 60*time.Second, time.Second, 15*time.Minute),
		WorkerTimeout:   env.Duration("WORKER_TIMEOUT", worker.DefaultTimeout, time.Second, 15*time.Minute),
		APIBodyLimit:    int64(env.Int("API_BODY_LIMIT_BYTES", 262144, 1<<10, 6<<20)),
		APIMaxConns:     env.Int("API_MAX_CONNS", DefaultMaxConns, 16, 1000000),
		DBMaxConns:      env.Int("DB_MAX_CONNS", DefaultDBMaxConns, 1, 1000),
		LogLevel:        logging.LevelFromEnv(env),
		DatabasePrefix:  "jobweaver",
	}
	// KAFKA_AUTH and its settings apply only to external brokers: they may
	// be set for other tools (the LocalStack bridge) while make run uses
	// the embedded broker.
	if len(env.List("KAFKA_BROKERS", nil)) > 0 {
		cfg.Kafka = kafka.ConfigFromEnv(env, "")
	}
	cfg.API = api.ConfigFromEnv(env)
	cfg.Tracing = tracing.LocalConfigFromEnv(env)
	cfg.Scheduler = scheduler.ConfigFromEnv(env)
	cfg.Worker = worker.ConfigFromEnv(env)
	cfg.DLQ = dlq.ConfigFromEnv(env)
	if err := env.Err(); err != nil {
		return cfg, err
	}
	if _, set := env.Lookup("SCHEDULER_MAX_IN_FLIGHT"); !set {
		cfg.Scheduler.MaxInFlight = cfg.InFlight()
	}
	return cfg, worker.CheckTimeout("WORKER_TIMEOUT", cfg.WorkerTimeout, cfg.Worker)
}

// DefaultRunJobBatchSize is ESM_RUN_JOB_BATCH_SIZE's default.
const DefaultRunJobBatchSize = 500

// DefaultESMPollers is ESM_POLLERS' default. One consumer per mapping
// means a function's invocations from a topic never run side by side:
// each takes what arrived while the last ran, so under load the batches
// grow instead of the invocations, which queued on the same locks and
// rows. Against two, with the run-job mapping's two kept
// (docs/performance.md, fourth session): 8 % less CPU for the same work,
// and a latency p99 at 500 jobs/s of 36–37 ms instead of 47–80 ms.
const DefaultESMPollers = 1

// DefaultRunJobPollers is ESM_RUN_JOB_POLLERS' default: the worker's
// batches hold their poller until every attempt in them has finished,
// so the run-job mapping keeps two.
const DefaultRunJobPollers = 2

// InFlight is twice what the stack's worker invocations take at once
// (see scheduler.InFlightFor): each poller of the run-job mapping invokes
// the worker with one batch of up to ESM_RUN_JOB_BATCH_SIZE records at a
// time. It is SCHEDULER_MAX_IN_FLIGHT's default (2,000 by default).
func (c Config) InFlight() int {
	return scheduler.InFlightFor(c.RunJobPollers, c.RunJobBatchSize)
}

// withDefaults fills what a hand-built Config left unset.
func (c Config) withDefaults() Config {
	if c.DataDir == "" {
		c.DataDir = ".data"
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = pgserver.DefaultURL
	}
	if c.TickInterval <= 0 {
		c.TickInterval = time.Second
	}
	if c.ESMBatchSize <= 0 {
		c.ESMBatchSize = 100
	}
	if c.ESMPollers <= 0 {
		c.ESMPollers = 1
	}
	if c.RunJobPollers <= 0 {
		c.RunJobPollers = c.ESMPollers
	}
	if c.RunJobBatchSize <= 0 {
		c.RunJobBatchSize = c.ESMBatchSize
	}
	if c.FunctionTimeout <= 0 {
		c.FunctionTimeout = 60 * time.Second
	}
	if c.WorkerTimeout <= 0 {
		c.WorkerTimeout = worker.DefaultTimeout
	}
	if c.APIBodyLimit <= 0 {
		c.APIBodyLimit = 262144
	}
	if c.DBMaxConns <= 0 {
		c.DBMaxConns = DefaultDBMaxConns
	}
	if c.APIMaxConns <= 0 {
		c.APIMaxConns = DefaultMaxConns
	}
	if c.DatabasePrefix == "" {
		c.DatabasePrefix = "jobweaver"
	}
	return c
}
