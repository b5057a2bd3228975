package worker

import (
	"fmt"
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
	// Concurrency is how many records of one batch run at once (default 16).
	Concurrency int
	// HTTPAllowlist lists CIDRs or host names HTTP_CALL may reach despite
	// the SSRF guard (see package ssrf).
	HTTPAllowlist []string
	// DeadlineMargin is how long before the invocation's deadline running
	// steps are stopped, leaving time to record the results (default 1s
	// from ConfigFromEnv; 0 stops steps only at the deadline itself).
	DeadlineMargin time.Duration
	// PageSizeMax caps the size of a page of executions (default 100).
	PageSizeMax int
	// Steps is the step registry attempts run with; nil means step.Default.
	Steps *step.Registry
	// Scheduler reaches the scheduler function (invoke.Scheduler): each
	// attempt is started through it right before it runs, so that its
	// lease measures work and a superseded run-job record is not run, and
	// attempts a batch could not start are released through it. nil runs
	// every record without asking: a standalone worker (tests), whose
	// attempts the scheduler never sees start.
	Scheduler invoke.Invoker
	// Metrics receives the worker's metrics; nil means metrics.FromEnv
	// (the METRICS variable). See docs/metrics.md.
	Metrics *metrics.Emitter
}

// DefaultTimeout is the worker function's timeout: in AWS (infra's
// functions.worker.timeoutSeconds, the longest a Kafka-triggered function
// may have) and for the local stack's run-job mapping (WORKER_TIMEOUT).
const DefaultTimeout = 840 * time.Second

// startSlack is what an invocation needs besides its attempts' steps:
// decoding, start calls, commits and publishing.
const startSlack = 30 * time.Second

// MinTimeout is the shortest worker timeout that runs every attempt the
// api accepts (jobspec.MaxAttemptMs) with steps stopping margin before the
// deadline (WORKER_DEADLINE_MARGIN).
func MinTimeout(margin time.Duration) time.Duration {
	return time.Duration(jobspec.MaxAttemptMs)*time.Millisecond + margin + startSlack
}

// CheckTimeout reports, naming the variable that sets it, a worker timeout
// too short for the attempts the api accepts.
func CheckTimeout(name string, timeout, margin time.Duration) error {
	if min := MinTimeout(margin); timeout < min {
		return fmt.Errorf("config: %s (%s) must be at least %s: the api accepts attempts of up to %s (jobspec.MaxAttemptMs), "+
			"and steps stop %s before the deadline", name, timeout, min,
			time.Duration(jobspec.MaxAttemptMs)*time.Millisecond, margin)
	}
	return nil
}

// Defaults.
const (
	DefaultConcurrency    = 16
	DefaultDeadlineMargin = time.Second
	DefaultPageSizeMax    = 100
	DefaultPageSize       = 20
)

// ConfigFromEnv reads WORKER_CONCURRENCY, WORKER_HTTP_ALLOWLIST,
// WORKER_DEADLINE_MARGIN and WORKER_PAGE_SIZE_MAX. Problems are reported
// by env.Err.
func ConfigFromEnv(env *config.Env) Config {
	return Config{
		Concurrency:    env.Int("WORKER_CONCURRENCY", DefaultConcurrency, 1, 1024),
		HTTPAllowlist:  env.List("WORKER_HTTP_ALLOWLIST", nil),
		DeadlineMargin: env.Duration("WORKER_DEADLINE_MARGIN", DefaultDeadlineMargin, 0, 5*time.Minute),
		PageSizeMax:    env.Int("WORKER_PAGE_SIZE_MAX", DefaultPageSizeMax, 1, 1000),
	}
}

// Validate checks what ConfigFromEnv cannot: the allowlist entries. The
// error names WORKER_HTTP_ALLOWLIST and the bad entry.
func (c Config) Validate() error {
	if _, err := ssrf.NewGuard(c.HTTPAllowlist); err != nil {
		return fmt.Errorf("config: WORKER_HTTP_ALLOWLIST: %w", err)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.DeadlineMargin < 0 {
		c.DeadlineMargin = 0
	}
	if c.PageSizeMax <= 0 {
		c.PageSizeMax = DefaultPageSizeMax
	}
	if c.Steps == nil {
		c.Steps = step.Default
	}
	return c
}
