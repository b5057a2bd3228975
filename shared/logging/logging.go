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

	"github.com/jobweaver/jobweaver/shared/trace"
)

// New returns a JSON logger for service writing to w (os.Stdout if nil).
// LOG_LEVEL (debug, info, warn, error) sets the level; the default is info.
func New(service string, w io.Writer) *slog.Logger {
	if w == nil {
		w = os.Stdout
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: levelFromEnv()})
	return slog.New(contextHandler{h}).With("service", service)
}

func levelFromEnv() slog.Level {
	switch strings.ToLower(os.Getenv("LOG_LEVEL")) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
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
