package dlq

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/metrics"
)

// Config tunes the dlq. Start from DefaultConfig or ConfigFromEnv; New
// fills zero fields with their defaults and validates the result.
type Config struct {
	// PageSizeMax caps the size of a page of entries (default 100, 1 to
	// 1000).
	PageSizeMax int
	// Retention is DLQ_RETENTION: RETRIED and DISMISSED entries older than
	// it are removed, every other entry once older than twice it (default
	// 30 days, 1 hour to 10 years; a Go duration or a number of days).
	Retention time.Duration
	// MaxEntries is DLQ_MAX_ENTRIES: beyond it, the oldest entries are
	// removed first (default 0: no cap).
	MaxEntries int
	// ChunkSize is how many entries one chunk of a bulk dismiss or of
	// retention handles, in one transaction (default 500).
	ChunkSize int
	// RetryChunkSize is how many entries one chunk of a bulk retry
	// handles: each is one call to the scheduler (default 50).
	RetryChunkSize int
	// MaintainBudget is DLQ_MAINTAIN_BUDGET: how long one call of the
	// maintenance route works on operations and retention before it
	// answers, also bounded by the invocation's deadline (default 20s,
	// 1s to 14m).
	MaintainBudget time.Duration
	// Scheduler reaches the scheduler function (invoke.Scheduler): an
	// entry's retry asks it to run the job again (internalapi.PathJobRetry).
	// nil: retries answer 503 DLQ.SCHEDULER_UNAVAILABLE.
	Scheduler invoke.Invoker
	// MetricsMode is METRICS (metrics.ModeFromEnv): metrics.ModeEMF writes
	// the dlq's metrics to stdout, metrics.ModeOff or "" none. See
	// docs/metrics.md.
	MetricsMode string
	// Metrics, when set, receives the dlq's metrics instead (tests).
	Metrics *metrics.Emitter
}

// Defaults of Config.
const (
	DefaultPageSizeMax    = 100
	DefaultRetention      = 30 * 24 * time.Hour
	DefaultChunkSize      = 500
	DefaultRetryChunkSize = 50
	DefaultMaintainBudget = 20 * time.Second
)

// Bounds of Retention.
const (
	MinRetention = time.Hour
	MaxRetention = 3650 * 24 * time.Hour
)

// DefaultConfig returns the defaults ConfigFromEnv starts from and New
// fills zero fields with.
func DefaultConfig() Config {
	return Config{
		PageSizeMax:    DefaultPageSizeMax,
		Retention:      DefaultRetention,
		ChunkSize:      DefaultChunkSize,
		RetryChunkSize: DefaultRetryChunkSize,
		MaintainBudget: DefaultMaintainBudget,
		MetricsMode:    metrics.ModeOff,
	}
}

// ConfigFromEnv reads DLQ_PAGE_SIZE_MAX, DLQ_RETENTION, DLQ_MAX_ENTRIES,
// DLQ_MAINTAIN_BUDGET and METRICS. Problems are reported by env.Err.
func ConfigFromEnv(env *config.Env) Config {
	d := DefaultConfig()
	c := d
	c.PageSizeMax = env.Int("DLQ_PAGE_SIZE_MAX", d.PageSizeMax, 1, 1000)
	c.Retention = retentionFromEnv(env, d.Retention)
	c.MaxEntries = env.Int("DLQ_MAX_ENTRIES", 0, 0, 1_000_000_000)
	c.MaintainBudget = env.Duration("DLQ_MAINTAIN_BUDGET", d.MaintainBudget, time.Second, 14*time.Minute)
	c.MetricsMode = metrics.ModeFromEnv(env)
	return c
}

// retentionFromEnv reads DLQ_RETENTION: a Go duration (720h) or a number
// of days (30, or 30d).
func retentionFromEnv(env *config.Env, def time.Duration) time.Duration {
	v := strings.TrimSpace(env.String("DLQ_RETENTION", ""))
	if v == "" {
		return def
	}
	d, err := ParseRetention(v)
	if err != nil {
		env.Report(fmt.Errorf("config: DLQ_RETENTION must be a Go duration or a number of days from 1h to 3650 days, such as 720h or 30 (got %q)", v))
		return def
	}
	return d
}

// ParseRetention reads a retention: a Go duration (720h), or a number of
// days (30 or 30d), from MinRetention to MaxRetention.
func ParseRetention(v string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.Atoi(strings.TrimSuffix(v, "d")); err == nil {
		if n < 1 || n > 3650 {
			return 0, fmt.Errorf("%d days is out of range", n)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, err
	}
	if d < MinRetention || d > MaxRetention {
		return 0, fmt.Errorf("%s is out of range", d)
	}
	return d, nil
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.PageSizeMax == 0 {
		c.PageSizeMax = d.PageSizeMax
	}
	if c.Retention == 0 {
		c.Retention = d.Retention
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = d.ChunkSize
	}
	if c.RetryChunkSize == 0 {
		c.RetryChunkSize = d.RetryChunkSize
	}
	if c.MaintainBudget == 0 {
		c.MaintainBudget = d.MaintainBudget
	}
	return c
}

// validate reports the first bad field, named by its variable.
func (c Config) validate() error {
	switch {
	case c.PageSizeMax < 1 || c.PageSizeMax > 1000:
		return config.Invalid("DLQ_PAGE_SIZE_MAX", "from 1 to 1000", c.PageSizeMax)
	case c.Retention < MinRetention || c.Retention > MaxRetention:
		return config.Invalid("DLQ_RETENTION", "from 1h to 3650 days", c.Retention)
	case c.MaxEntries < 0:
		return config.Invalid("DLQ_MAX_ENTRIES", "0 (no cap) or more", c.MaxEntries)
	case c.ChunkSize < 1 || c.ChunkSize > 10_000:
		return config.Invalid("ChunkSize", "from 1 to 10000", c.ChunkSize)
	case c.RetryChunkSize < 1 || c.RetryChunkSize > 1000:
		return config.Invalid("RetryChunkSize", "from 1 to 1000", c.RetryChunkSize)
	case c.MaintainBudget < 0:
		return config.Invalid("DLQ_MAINTAIN_BUDGET", "positive", c.MaintainBudget)
	}
	return metrics.CheckMode(c.MetricsMode)
}
