package worker

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/jobspec"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/ssrf"
	"github.com/jobweaver/jobweaver/shared/step"
)

// Config tunes the worker.
type Config struct {
	// Concurrency (WORKER_CONCURRENCY) is how many CPU-bound attempts (a
	// SCRIPT or COMPUTE step among their steps, or a kind step.Classify
	// does not know) the process runs at once, across the batches it runs
	// (default: the cores Go uses, GOMAXPROCS). Before I/O-bound attempts
	// had their own bound it counted every attempt of one batch.
	Concurrency int
	// IOConcurrency (WORKER_IO_CONCURRENCY) is how many I/O-bound attempts
	// (only SLEEP, HTTP_CALL, WEBHOOK, LOG, FAIL steps) the process runs at
	// once (default 1000). See slots.go and docs/performance.md.
	IOConcurrency int
	// HTTPAllowlist lists CIDRs or host names HTTP_CALL may reach despite
	// the SSRF guard (see package ssrf).
	HTTPAllowlist []string
	// DeadlineMargin is how long before the invocation's deadline running
	// steps are stopped, leaving time to record the results (default 1s
	// from ConfigFromEnv; 0 stops steps only at the deadline itself).
	DeadlineMargin time.Duration
	// PageSizeMax caps the size of a page of executions (default 100).
	PageSizeMax int
	// Steps is the step registry SIMULATION attempts run with; nil means
	// step.Default.
	Steps *step.Registry
	// Types is the job-type registry attempts are parsed with; nil means
	// jobspec.Default, with SIMULATION running Steps.
	Types *jobspec.Registry
	// SigningKeys are the WEBHOOK signing secrets by name
	// (WEBHOOK_SIGNING_KEYS: name=secret,...). They never appear in a log
	// or an error.
	SigningKeys map[string][]byte
	// SigningKeysSecretARN (WEBHOOK_SIGNING_KEYS_SECRET_ARN) names a
	// Secrets Manager secret holding more signing keys, read once at cold
	// start by LoadSigningKeys: a JSON object {"name": "secret", ...} or
	// the WEBHOOK_SIGNING_KEYS form.
	SigningKeysSecretARN string
	// Scheduler reaches the scheduler function (invoke.Scheduler): each
	// attempt is started through it right before it runs, so that its
	// lease measures work and a superseded run-job record is not run, and
	// attempts a batch could not start are released through it. nil runs
	// every record without asking: a standalone worker (tests), whose
	// attempts the scheduler never sees start.
	Scheduler invoke.Invoker
	// MetricsMode is METRICS (metrics.ModeFromEnv): metrics.ModeEMF writes
	// the worker's metrics to stdout, metrics.ModeOff or "" none. See
	// docs/metrics.md.
	MetricsMode string
	// Metrics, when set, receives the worker's metrics instead (tests).
	Metrics *metrics.Emitter
	// Durable tunes durable resume and parking (durable.go).
	Durable DurableConfig
	// CheckpointRetention (WORKER_CHECKPOINT_RETENTION, default 90 days)
	// is how long a job's checkpoints are kept after its newest one, and
	// a job_yields row after its last yield (prune.go).
	CheckpointRetention time.Duration
	// Batch tunes BATCH_PROCESS jobs (batch.go).
	Batch BatchConfig
}

// DefaultTimeout is the worker function's timeout for the local stack's
// run-job mapping (WORKER_TIMEOUT) and the emulator. A job longer than
// one invocation yields between steps and resumes, uncharged, so the
// timeout need only hold the longest step (MinTimeout); in AWS it is
// infra's functions.worker.timeoutSeconds (cdk.json, per stage).
const DefaultTimeout = 840 * time.Second

// startSlack is what an invocation needs besides its attempts' steps:
// decoding, start calls, commits and publishing.
const startSlack = 30 * time.Second

// MinTimeout is the shortest worker timeout that runs every step the api
// accepts within one invocation, with steps stopping margin before the
// deadline (WORKER_DEADLINE_MARGIN): the longest step (jobspec.MaxStepMs)
// or the longest SLEEP that runs inline rather than parks (parkThreshold,
// WORKER_PARK_THRESHOLD; negative: step.MaxSleepMs), whichever is longer.
// A job's steps together may take longer: its attempt yields at the
// deadline and the next resumes at the first unfinished step.
func MinTimeout(margin, parkThreshold time.Duration) time.Duration {
	inline := DurableConfig{ParkThreshold: parkThreshold}.withDefaults().parkAfter()
	return max(time.Duration(jobspec.MaxStepMs)*time.Millisecond, inline) + margin + startSlack
}

// CheckTimeout reports, naming the variable that sets it, a worker timeout
// too short for the steps the api accepts under c (its DeadlineMargin
// and Durable.ParkThreshold).
func CheckTimeout(name string, timeout time.Duration, c Config) error {
	if min := MinTimeout(c.DeadlineMargin, c.Durable.ParkThreshold); timeout < min {
		return fmt.Errorf("config: %s (%s) must be at least %s: a step may run up to %s (jobspec.MaxStepMs, or a SLEEP up to "+
			"WORKER_PARK_THRESHOLD (%s) runs inline), steps stop %s before the deadline, and an invocation needs %s besides",
			name, timeout, min, time.Duration(jobspec.MaxStepMs)*time.Millisecond,
			c.Durable.withDefaults().parkAfter(), c.DeadlineMargin, startSlack)
	}
	return nil
}

// DefaultConcurrency is Concurrency's default: the cores Go uses.
func DefaultConcurrency() int { return max(runtime.GOMAXPROCS(0), 1) }

// Bounds of the concurrency settings.
const (
	MaxConcurrency   = 1024
	MaxIOConcurrency = 10000
)

// Defaults.
const (
	DefaultIOConcurrency  = 1000
	DefaultDeadlineMargin = time.Second
	DefaultPageSizeMax    = 100
)

// DefaultConfig returns the defaults ConfigFromEnv starts from and New
// fills zero fields with.
func DefaultConfig() Config {
	return Config{
		Concurrency:    DefaultConcurrency(),
		IOConcurrency:  DefaultIOConcurrency,
		DeadlineMargin: DefaultDeadlineMargin,
		PageSizeMax:    DefaultPageSizeMax,
		Steps:          step.Default,
		MetricsMode:    metrics.ModeOff,

		CheckpointRetention: DefaultCheckpointRetention,
	}
}

// ConfigFromEnv reads WORKER_CONCURRENCY, WORKER_IO_CONCURRENCY, WORKER_HTTP_ALLOWLIST,
// WORKER_DEADLINE_MARGIN, WORKER_PAGE_SIZE_MAX, WORKER_PARK_THRESHOLD,
// WORKER_MAX_IDLE_YIELDS, WORKER_CHECKPOINT_RETENTION, WEBHOOK_SIGNING_KEYS,
// WEBHOOK_SIGNING_KEYS_SECRET_ARN and METRICS. Problems, a bad allowlist entry included, are reported by
// env.Err.
func ConfigFromEnv(env *config.Env) Config {
	d := DefaultConfig()
	c := Config{
		Concurrency:    env.Int("WORKER_CONCURRENCY", d.Concurrency, 1, MaxConcurrency),
		IOConcurrency:  env.Int("WORKER_IO_CONCURRENCY", d.IOConcurrency, 1, MaxIOConcurrency),
		HTTPAllowlist:  env.List("WORKER_HTTP_ALLOWLIST", nil),
		DeadlineMargin: env.Duration("WORKER_DEADLINE_MARGIN", d.DeadlineMargin, 0, 5*time.Minute),
		PageSizeMax:    env.Int("WORKER_PAGE_SIZE_MAX", d.PageSizeMax, 1, 1000),
		MetricsMode:    metrics.ModeFromEnv(env),
		Durable:        durableFromEnv(env),

		CheckpointRetention: retentionFromEnv(env),
		Batch:               batchFromEnv(env),
	}
	// A bad entry stops the function before it connects to anything.
	if err := checkAllowlist(c.HTTPAllowlist); err != nil {
		env.Report(err)
	}
	keys, err := ParseSigningKeys(env.String("WEBHOOK_SIGNING_KEYS", ""))
	if err != nil {
		env.Report(err)
	}
	c.SigningKeys = keys
	c.SigningKeysSecretARN = env.String("WEBHOOK_SIGNING_KEYS_SECRET_ARN", "")
	return c
}

// checkAllowlist reports a bad WORKER_HTTP_ALLOWLIST entry, naming the
// variable and the entry.
func checkAllowlist(list []string) error {
	if _, err := ssrf.NewGuard(list); err != nil {
		return fmt.Errorf("config: WORKER_HTTP_ALLOWLIST: %w", err)
	}
	return nil
}

// withDefaults fills zero fields from DefaultConfig. A zero
// DeadlineMargin stays: it stops steps only at the deadline itself.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.IOConcurrency == 0 {
		c.IOConcurrency = d.IOConcurrency
	}
	if c.PageSizeMax == 0 {
		c.PageSizeMax = d.PageSizeMax
	}
	if c.CheckpointRetention == 0 {
		c.CheckpointRetention = d.CheckpointRetention
	}
	if c.Steps == nil {
		c.Steps = d.Steps
	}
	c.Durable = c.Durable.withDefaults()
	c.Batch = c.Batch.withDefaults()
	if c.Types == nil {
		c.Types = jobspec.Default.With(jobspec.StepList(jobspec.Simulation.Name, jobspec.Simulation.Schema, c.Steps, false))
	}
	return c
}

// MaxSigningKeyBytes caps a webhook signing secret; MinSigningKeyBytes is
// the shortest accepted (HMAC-SHA256 wants 32 bytes of key).
const (
	MinSigningKeyBytes = 16
	MaxSigningKeyBytes = 1024
)

// ParseSigningKeys reads WEBHOOK_SIGNING_KEYS: name=secret pairs separated
// by commas (a secret may not hold a comma). Its errors name the variable
// and the key, never the secret.
func ParseSigningKeys(v string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if strings.TrimSpace(v) == "" {
		return out, nil
	}
	for i, pair := range strings.Split(v, ",") {
		name, secret, ok := strings.Cut(strings.TrimSpace(pair), "=")
		name = strings.TrimSpace(name)
		switch {
		case !ok || name == "":
			return nil, fmt.Errorf("config: WEBHOOK_SIGNING_KEYS: entry %d must be name=secret", i+1)
		case len(name) > step.MaxSigningKeyNameBytes || strings.ContainsAny(name, " \t="):
			return nil, fmt.Errorf("config: WEBHOOK_SIGNING_KEYS: entry %d: the name must be at most %d bytes without spaces", i+1, step.MaxSigningKeyNameBytes)
		case len(secret) < MinSigningKeyBytes || len(secret) > MaxSigningKeyBytes:
			return nil, fmt.Errorf("config: WEBHOOK_SIGNING_KEYS: key %q: the secret must be %d to %d bytes", name, MinSigningKeyBytes, MaxSigningKeyBytes)
		case out[name] != nil:
			return nil, fmt.Errorf("config: WEBHOOK_SIGNING_KEYS: key %q appears more than once", name)
		}
		out[name] = []byte(secret)
	}
	return out, nil
}

// validate reports the first bad field, named by its variable; a bad
// allowlist entry is named too.
func (c Config) validate() error {
	switch {
	case c.Concurrency < 1 || c.Concurrency > MaxConcurrency:
		return config.Invalid("WORKER_CONCURRENCY", fmt.Sprintf("from 1 to %d", MaxConcurrency), c.Concurrency)
	case c.IOConcurrency < 1 || c.IOConcurrency > MaxIOConcurrency:
		return config.Invalid("WORKER_IO_CONCURRENCY", fmt.Sprintf("from 1 to %d", MaxIOConcurrency), c.IOConcurrency)
	case c.DeadlineMargin < 0:
		return config.Invalid("WORKER_DEADLINE_MARGIN", "0 or more", c.DeadlineMargin)
	case c.PageSizeMax < 1 || c.PageSizeMax > 1000:
		return config.Invalid("WORKER_PAGE_SIZE_MAX", "from 1 to 1000", c.PageSizeMax)
	case c.CheckpointRetention < MinCheckpointRetention || c.CheckpointRetention > MaxCheckpointRetention:
		return config.Invalid("WORKER_CHECKPOINT_RETENTION", "from 1h to 3650 days", c.CheckpointRetention)
	}
	if err := metrics.CheckMode(c.MetricsMode); err != nil {
		return err
	}
	return checkAllowlist(c.HTTPAllowlist)
}
