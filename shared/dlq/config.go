package dlq

import (
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/metrics"
)

// Config tunes the dlq. Start from DefaultConfig or ConfigFromEnv; New
// fills zero fields with their defaults and validates the result.
type Config struct {
	// PageSizeMax caps the size of a page of entries (default 100, 1 to
	// 1000).
	PageSizeMax int
	// MetricsMode is METRICS (metrics.ModeFromEnv): metrics.ModeEMF writes
	// the dlq's metrics to stdout, metrics.ModeOff or "" none. See
	// docs/metrics.md.
	MetricsMode string
	// Metrics, when set, receives the dlq's metrics instead (tests).
	Metrics *metrics.Emitter
	// Notify sends new entries to a webhook and an SNS topic (notify.go).
	Notify NotifyConfig
}

// DefaultPageSizeMax is PageSizeMax's default.
const DefaultPageSizeMax = 100

// DefaultConfig returns the defaults ConfigFromEnv starts from and New
// fills zero fields with.
func DefaultConfig() Config {
	return Config{PageSizeMax: DefaultPageSizeMax, MetricsMode: metrics.ModeOff,
		Notify: DefaultNotifyConfig()}
}

// ConfigFromEnv reads DLQ_PAGE_SIZE_MAX, METRICS and the notifications'
// variables (notifyConfigFromEnv). Problems are reported by env.Err.
func ConfigFromEnv(env *config.Env) Config {
	d := DefaultConfig()
	return Config{
		PageSizeMax: env.Int("DLQ_PAGE_SIZE_MAX", d.PageSizeMax, 1, 1000),
		MetricsMode: metrics.ModeFromEnv(env),
		Notify:      notifyConfigFromEnv(env),
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.PageSizeMax == 0 {
		c.PageSizeMax = d.PageSizeMax
	}
	c.Notify = c.Notify.withDefaults()
	return c
}

// validate reports the first bad field, named by its variable.
func (c Config) validate() error {
	if c.PageSizeMax < 1 || c.PageSizeMax > 1000 {
		return config.Invalid("DLQ_PAGE_SIZE_MAX", "from 1 to 1000", c.PageSizeMax)
	}
	if err := c.Notify.validate(); err != nil {
		return err
	}
	return metrics.CheckMode(c.MetricsMode)
}
