package scheduler

import (
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/config"
)

func TestConfigFromEnvDefaults(t *testing.T) {
	env := config.FromMap(nil)
	got := ConfigFromEnv(env)
	if env.Err() != nil {
		t.Fatal(env.Err())
	}
	want := Config{BatchSize: 100, FreshRatio: 0.5, MaxInFlight: 192, Lease: 15 * time.Minute, QueueTimeout: 15 * time.Minute,
		BackoffBase: time.Second, BackoffCap: 300 * time.Second, Jitter: 0.2,
		TickMargin: 2 * time.Second, IdlePoll: 100 * time.Millisecond, PageSizeMax: 100}
	if got.Clock != nil || got.BatchSize != want.BatchSize || got.FreshRatio != want.FreshRatio ||
		got.MaxInFlight != want.MaxInFlight || got.Lease != want.Lease || got.QueueTimeout != want.QueueTimeout || got.BackoffBase != want.BackoffBase ||
		got.BackoffCap != want.BackoffCap || got.Jitter != want.Jitter || got.TickMargin != want.TickMargin ||
		got.IdlePoll != want.IdlePoll || got.PageSizeMax != want.PageSizeMax {
		t.Fatalf("defaults = %+v, want %+v", got, want)
	}
	if err := got.validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(Config) bool
		wantErr string // the variable the one-line error names
	}{
		{"batch size", map[string]string{"SCHEDULER_BATCH_SIZE": "250"}, func(c Config) bool { return c.BatchSize == 250 }, ""},
		{"fresh ratio", map[string]string{"SCHEDULER_FRESH_RATIO": "0.8"}, func(c Config) bool { return c.FreshRatio == 0.8 }, ""},
		{"max in flight 0 pauses", map[string]string{"SCHEDULER_MAX_IN_FLIGHT": "0"}, func(c Config) bool { return c.MaxInFlight == 0 }, ""},
		{"lease", map[string]string{"SCHEDULER_LEASE": "90s"}, func(c Config) bool { return c.Lease == 90*time.Second }, ""},
		{"queue timeout", map[string]string{"SCHEDULER_QUEUE_TIMEOUT": "2m"}, func(c Config) bool { return c.QueueTimeout == 2*time.Minute }, ""},
		{"queue timeout 0 never takes back", map[string]string{"SCHEDULER_QUEUE_TIMEOUT": "0s"}, func(c Config) bool { return c.QueueTimeout == 0 }, ""},
		{"backoff", map[string]string{"SCHEDULER_BACKOFF_BASE": "250ms", "SCHEDULER_BACKOFF_CAP": "1m", "SCHEDULER_BACKOFF_JITTER": "0"},
			func(c Config) bool {
				return c.BackoffBase == 250*time.Millisecond && c.BackoffCap == time.Minute && c.Jitter == 0
			}, ""},
		{"tick", map[string]string{"SCHEDULER_TICK_MARGIN": "5s", "SCHEDULER_IDLE_POLL": "20ms"},
			func(c Config) bool { return c.TickMargin == 5*time.Second && c.IdlePoll == 20*time.Millisecond }, ""},
		{"bad batch size", map[string]string{"SCHEDULER_BATCH_SIZE": "0"}, nil, "SCHEDULER_BATCH_SIZE"},
		{"bad ratio", map[string]string{"SCHEDULER_FRESH_RATIO": "1.5"}, nil, "SCHEDULER_FRESH_RATIO"},
		{"bad lease", map[string]string{"SCHEDULER_LEASE": "soon"}, nil, "SCHEDULER_LEASE"},
		{"bad jitter", map[string]string{"SCHEDULER_BACKOFF_JITTER": "-1"}, nil, "SCHEDULER_BACKOFF_JITTER"},
		{"cap below base", map[string]string{"SCHEDULER_BACKOFF_BASE": "10s", "SCHEDULER_BACKOFF_CAP": "5s"}, nil, "SCHEDULER_BACKOFF_CAP"},
		{"metrics in Lambda", map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "jobweaver-scheduler"}, func(c Config) bool { return c.MetricsMode == "emf" }, ""},
		{"metrics off", map[string]string{"METRICS": "OFF"}, func(c Config) bool { return c.MetricsMode == "off" }, ""},
		{"bad metrics", map[string]string{"METRICS": "statsd"}, nil, "METRICS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := config.FromMap(tt.env)
			c := ConfigFromEnv(env)
			err := env.Err()
			if err == nil {
				err = c.validate()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error = %v, want one line naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("config = %+v", c)
			}
		})
	}
}

func TestNewRejectsMissingDeps(t *testing.T) {
	if _, err := New(DefaultConfig(), nil); err == nil {
		t.Fatal("New without deps succeeded")
	}
}
