package dlq

import (
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/metrics"
)

// Config tunes the dlq.
type Config struct {
	// PageSizeMax caps the size of a page of entries (default 100).
	PageSizeMax int
	// Metrics receives the dlq's metrics; nil means metrics.FromEnv (the
	// METRICS variable). See docs/metrics.md.
	Metrics *metrics.Emitter
}

// Defaults.
const (
	DefaultPageSizeMax = 100
)

// ConfigFromEnv reads DLQ_PAGE_SIZE_MAX. Problems are reported by env.Err.
func ConfigFromEnv(env *config.Env) Config {
	return Config{PageSizeMax: env.Int("DLQ_PAGE_SIZE_MAX", DefaultPageSizeMax, 1, 1000)}
}
