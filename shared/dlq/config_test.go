package dlq_test

import (
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

func TestConfigFromEnvDefaultsAndMetrics(t *testing.T) {
	env := config.FromMap(nil)
	if c := dlq.ConfigFromEnv(env); env.Err() != nil || c != dlq.DefaultConfig() {
		t.Fatalf("defaults = %+v, %v", c, env.Err())
	}
	for name, v := range map[string]string{"DLQ_PAGE_SIZE_MAX": "0", "METRICS": "statsd"} {
		env := config.FromMap(map[string]string{name: v})
		dlq.ConfigFromEnv(env)
		if err := env.Err(); err == nil || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%s: error %v, want one line naming it", name, v, err)
		}
	}
}

// New validates its config once: a bad field is an error naming the
// variable that sets it, before any connection is used.
func TestNewValidatesConfig(t *testing.T) {
	deps := &wiring.Deps{} // no pool: a valid config would fail on deps instead
	for name, cfg := range map[string]dlq.Config{
		"DLQ_PAGE_SIZE_MAX": {PageSizeMax: -1},
		"METRICS":           {MetricsMode: "statsd"},
	} {
		if _, err := dlq.New(cfg, deps); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: New = %v, want an error naming it", name, err)
		}
	}
	if _, err := dlq.New(dlq.Config{}, deps); err == nil || !strings.Contains(err.Error(), "Pool") {
		t.Errorf("no pool: New = %v", err)
	}
}
