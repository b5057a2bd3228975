// Package logging builds the platform's structured JSON logger: every line
// carries the service name and, when the context has them, the trace ID and
// job ID.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// levels are the values of LOG_LEVEL.
var levels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// LevelFromEnv reads LOG_LEVEL for a function's config: debug, info, warn
// or error (any case), default info. Another value is recorded in env as
// an error naming LOG_LEVEL.
func LevelFromEnv(env *config.Env) slog.Level {
	return levels[env.OneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error")]
}

// NewAt returns a JSON logger for service at level, writing to w
// (os.Stdout if nil).
func NewAt(service string, w io.Writer, level slog.Level) *slog.Logger {
	if w == nil {
		w = os.Stdout
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(contextHandler{h}).With("service", service)
}

// New is NewAt with the level LOG_LEVEL names in the process environment,
// for tools and tests; a value LevelFromEnv refuses is info here. The
// functions read LOG_LEVEL through their config (wiring.FromEnv, the local
// stack's), where a bad value stops them.
func New(service string, w io.Writer) *slog.Logger {
	return NewAt(service, w, levels[strings.ToLower(strings.TrimSpace(os.Getenv("LOG_LEVEL")))])
}

// Discard returns a logger that writes nothing, for tests and benchmarks.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := trace.TraceID(ctx); id != "" {
		r.AddAttrs(slog.String("traceId", id))
	}
	if id := trace.JobID(ctx); id != "" {
		r.AddAttrs(slog.String("jobId", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(as)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}
