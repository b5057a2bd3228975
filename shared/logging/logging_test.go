package logging_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/logging"
)

func TestLevelFromEnv(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		value string // "" leaves LOG_LEVEL unset
		want  slog.Level
		err   bool
	}{
		{"", slog.LevelInfo, false},
		{"debug", slog.LevelDebug, false},
		{" WARN ", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"loud", slog.LevelInfo, true},
	} {
		vars := map[string]string{}
		if c.value != "" {
			vars["LOG_LEVEL"] = c.value
		}
		env := config.FromMap(vars)
		got := logging.LevelFromEnv(env)
		err := env.Err()
		if got != c.want || (err != nil) != c.err || (err != nil && !strings.Contains(err.Error(), "LOG_LEVEL")) {
			t.Errorf("LOG_LEVEL=%q: %v, %v; want %v, error %v naming LOG_LEVEL", c.value, got, err, c.want, c.err)
		}
	}
}

func TestNewAtFiltersBelowItsLevel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := logging.NewAt("worker", &buf, slog.LevelWarn)
	log.Info("dropped")
	log.Warn("kept")
	if out := buf.String(); strings.Contains(out, "dropped") || !strings.Contains(out, `"msg":"kept"`) || !strings.Contains(out, `"service":"worker"`) {
		t.Fatalf("log = %s", out)
	}
}
