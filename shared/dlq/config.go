package dlq

import "github.com/jobweaver/jobweaver/shared/config"

// Config tunes the dlq.
type Config struct {
	// PageSizeMax caps the size of a page of entries (default 100).
	PageSizeMax int
}

// Defaults.
const (
	DefaultPageSizeMax = 100
	DefaultPageSize    = 20
)

// ConfigFromEnv reads DLQ_PAGE_SIZE_MAX. Problems are reported by env.Err.
func ConfigFromEnv(env *config.Env) Config {
	return Config{PageSizeMax: env.Int("DLQ_PAGE_SIZE_MAX", DefaultPageSizeMax, 1, 1000)}
}
