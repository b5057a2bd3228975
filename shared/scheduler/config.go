package scheduler

import (
	"time"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/metrics"
)

// Config tunes the scheduler. Start from [DefaultConfig] or
// [ConfigFromEnv]; [New] validates it.
type Config struct {
	// BatchSize is how many jobs one dispatch pass claims at most, and how
	// many expired leases one pass rescues.
	BatchSize int
	// FreshRatio is the share of each batch reserved for fresh jobs
	// (attempts = 0); the rest is reserved for retries.
	FreshRatio float64
	// MaxInFlight caps RUNNING jobs (dispatched, started or not). 0 pauses
	// dispatch. It should follow what the workers can run at once (see
	// InFlightFor), so that dispatched work does not queue in the run-job
	// topic where it can no longer be reordered.
	MaxInFlight int
	// Lease is how long a started attempt may run before it is rescued as
	// failed. It starts when a worker starts the attempt (StartAttempts),
	// not at dispatch.
	Lease time.Duration
	// QueueTimeout is how long a dispatched attempt may wait for a worker
	// to start it. Then it is taken back and dispatched again, without
	// being charged (its record was lost, or waited too long); its old
	// record is refused if it arrives. 0 never takes attempts back.
	QueueTimeout time.Duration
	// Retry n waits min(BackoffBase·2^(n-1), BackoffCap) ± Jitter.
	BackoffBase, BackoffCap time.Duration
	Jitter                  float64
	// TickMargin: a tick stops looping this long before its deadline.
	TickMargin time.Duration
	// IdlePoll: a tick pauses this long after a pass that did nothing.
	IdlePoll time.Duration
	// PageSizeMax caps the size of a job list page.
	PageSizeMax int
	// Clock replaces time.Now where the scheduler uses the function's own
	// clock: the failedAt of poison dead letters and the pruning interval.
	// Due times, leases and timestamps of state changes always use
	// Postgres' now(); the tick loop measures its deadline in wall time.
	// Optional.
	Clock func() time.Time
	// DLQ reaches the dlq function (invoke.DLQ): every tick calls its
	// maintenance route (internalapi.PathMaintain), which works on bulk
	// operations and prunes by retention. nil: no call (tests, a
	// scheduler deployed without DLQ_FUNCTION_NAME).
	DLQ invoke.Invoker
	// MetricsMode is METRICS (metrics.ModeFromEnv): metrics.ModeEMF writes
	// the scheduler's metrics to stdout, metrics.ModeOff or "" none. See
	// docs/metrics.md.
	MetricsMode string
	// Metrics, when set, receives the scheduler's metrics instead (tests).
	Metrics *metrics.Emitter
}

// DefaultMaxInFlight is InFlightFor(6, 16): the run-job topic's six
// partitions, each feeding one worker invocation at a time (Lambda's Kafka
// event-source mapping), with batches of 16 (the deployed run-job
// mapping's batch size). The local stack sets its own from its mapping
// (ESM_RUN_JOB_BATCH_SIZE, pollers).
const DefaultMaxInFlight = 2 * 6 * 16

// InFlightFor is the MaxInFlight that keeps the workers busy without
// queueing more than they take: twice what their invocations hold at
// once, so that each invocation has its next batch waiting while it
// finishes this one. invocations is how many worker invocations run at
// once (run-job partitions, capped by the worker's reserved concurrency;
// locally the mapping's pollers); batch is how many records one takes
// (the run-job mapping's batch size). Records of a batch wait for a slot
// inside the invocation (WORKER_CONCURRENCY for CPU-bound attempts,
// WORKER_IO_CONCURRENCY for I/O-bound ones), uncharged: their lease
// starts when they start.
func InFlightFor(invocations, batch int) int {
	return 2 * max(invocations, 1) * max(batch, 1)
}

// DefaultConfig returns the defaults ConfigFromEnv uses.
func DefaultConfig() Config {
	return Config{
		BatchSize:    100,
		FreshRatio:   0.5,
		MaxInFlight:  DefaultMaxInFlight,
		Lease:        15 * time.Minute,
		QueueTimeout: 15 * time.Minute,
		BackoffBase:  time.Second,
		BackoffCap:   300 * time.Second,
		Jitter:       0.2,
		TickMargin:   2 * time.Second,
		IdlePoll:     100 * time.Millisecond,
		PageSizeMax:  100,
		MetricsMode:  metrics.ModeOff,
	}
}

// ConfigFromEnv reads SCHEDULER_BATCH_SIZE, SCHEDULER_FRESH_RATIO,
// SCHEDULER_MAX_IN_FLIGHT, SCHEDULER_LEASE, SCHEDULER_QUEUE_TIMEOUT,
// SCHEDULER_BACKOFF_BASE,
// SCHEDULER_BACKOFF_CAP, SCHEDULER_BACKOFF_JITTER, SCHEDULER_TICK_MARGIN,
// SCHEDULER_IDLE_POLL and METRICS. A bad value is recorded in env (see env.Err).
func ConfigFromEnv(env *config.Env) Config {
	d := DefaultConfig()
	base := env.Duration("SCHEDULER_BACKOFF_BASE", d.BackoffBase, time.Millisecond, time.Hour)
	return Config{
		BatchSize:    env.Int("SCHEDULER_BATCH_SIZE", d.BatchSize, 1, 10_000),
		FreshRatio:   env.Float("SCHEDULER_FRESH_RATIO", d.FreshRatio, 0, 1),
		MaxInFlight:  env.Int("SCHEDULER_MAX_IN_FLIGHT", d.MaxInFlight, 0, 10_000_000),
		Lease:        env.Duration("SCHEDULER_LEASE", d.Lease, time.Second, 24*time.Hour),
		QueueTimeout: env.Duration("SCHEDULER_QUEUE_TIMEOUT", d.QueueTimeout, 0, 24*time.Hour),
		BackoffBase:  base,
		// The cap may not be below the base; a default cap below a large
		// base is caught by New.
		BackoffCap:  env.Duration("SCHEDULER_BACKOFF_CAP", d.BackoffCap, base, 24*time.Hour),
		Jitter:      env.Float("SCHEDULER_BACKOFF_JITTER", d.Jitter, 0, 1),
		TickMargin:  env.Duration("SCHEDULER_TICK_MARGIN", d.TickMargin, 0, 10*time.Minute),
		IdlePoll:    env.Duration("SCHEDULER_IDLE_POLL", d.IdlePoll, time.Millisecond, time.Minute),
		PageSizeMax: d.PageSizeMax,
		MetricsMode: metrics.ModeFromEnv(env),
	}
}

// validate reports the first bad field, named by its variable.
func (c Config) validate() error {
	switch {
	case c.BatchSize < 1:
		return config.Invalid("SCHEDULER_BATCH_SIZE", "at least 1", c.BatchSize)
	case c.FreshRatio < 0 || c.FreshRatio > 1:
		return config.Invalid("SCHEDULER_FRESH_RATIO", "from 0 to 1", c.FreshRatio)
	case c.MaxInFlight < 0:
		return config.Invalid("SCHEDULER_MAX_IN_FLIGHT", "0 or more", c.MaxInFlight)
	case c.Lease < time.Millisecond:
		return config.Invalid("SCHEDULER_LEASE", "at least 1ms", c.Lease)
	case c.QueueTimeout < 0:
		return config.Invalid("SCHEDULER_QUEUE_TIMEOUT", "0 or more", c.QueueTimeout)
	case c.BackoffBase <= 0:
		return config.Invalid("SCHEDULER_BACKOFF_BASE", "positive", c.BackoffBase)
	case c.BackoffCap < c.BackoffBase:
		return config.Invalid("SCHEDULER_BACKOFF_CAP", "at least SCHEDULER_BACKOFF_BASE ("+c.BackoffBase.String()+")", c.BackoffCap)
	case c.Jitter < 0 || c.Jitter > 1:
		return config.Invalid("SCHEDULER_BACKOFF_JITTER", "from 0 to 1", c.Jitter)
	case c.TickMargin < 0:
		return config.Invalid("SCHEDULER_TICK_MARGIN", "0 or more", c.TickMargin)
	case c.IdlePoll < 0:
		return config.Invalid("SCHEDULER_IDLE_POLL", "0 or more", c.IdlePoll)
	case c.PageSizeMax < 1:
		return config.Invalid("PageSizeMax", "at least 1", c.PageSizeMax)
	}
	return metrics.CheckMode(c.MetricsMode)
}
