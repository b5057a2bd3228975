package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/apigw"
	"github.com/jobweaver/jobweaver/shared/internalhttp"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// namespace prefixes the api's error codes.
const namespace = "API"

// MaxTraceIDLen bounds a client's X-Trace-Id.
const MaxTraceIDLen = trace.MaxHTTPLen

// ValidTraceID reports whether a client-sent X-Trace-Id is kept: 1 to 128
// characters of A-Z, a-z, 0-9 and . _ : - (trace.ValidID). Others are
// replaced by a fresh ID, with X-Trace-Id-Replaced: true on the response
// and a warning in the log that names the problem, never the value.
func ValidTraceID(id string) bool { return trace.ValidID(id) }

// validTraceFilter reports whether a traceId list filter is worth asking
// for: 1 to 128 visible ASCII characters. It is wider than ValidTraceID,
// so that IDs kept by earlier, laxer rules can still be found.
func validTraceFilter(id string) bool {
	if id == "" || len(id) > MaxTraceIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// requestInfo is filled in by handlers for the access log.
type requestInfo struct{ jobID, caller string }

type requestInfoKey struct{}

// withJob records the job a request is about: in the context, so that
// every log line and error carries it, and for the access log.
func withJob(r *http.Request, jobID string) *http.Request {
	if ri, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		ri.jobID = jobID
	}
	return r.WithContext(trace.WithJobID(r.Context(), jobID))
}

// serve is the outermost handler: trace ID, access log, panic recovery,
// load shedding, then routing.
func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id, replaced := trace.FromHeader(r.Header)
	w.Header().Set(trace.HTTPHeader, id)
	ri := &requestInfo{}
	ctx := trace.WithTraceID(context.WithValue(r.Context(), requestInfoKey{}, ri), id)
	ctx, span := s.startRequestSpan(ctx, r, id)
	r = r.WithContext(ctx)
	if replaced {
		w.Header().Set(trace.ReplacedHeader, "true")
		// The value itself is never logged: it may hold anything.
		s.log.WarnContext(ctx, "X-Trace-Id replaced: it must be 1 to 128 characters of A-Z a-z 0-9 . _ : -",
			"sentLength", len(r.Header.Get(trace.HTTPHeader)))
	}
	sw := &statusWriter{ResponseWriter: w}

	defer func() {
		if p := recover(); p != nil {
			s.log.ErrorContext(trace.With(ctx, "", ri.jobID), "panic while serving a request",
				"method", r.Method, "path", redactPath(r.URL.Path), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if !sw.wrote {
				// A generic 500: the panic value and stack stay in the log.
				apierror.Write(sw, r, nil, namespace, errors.New("panic"))
			}
		}
		lctx := trace.With(ctx, "", ri.jobID)
		level := slog.LevelInfo
		if sw.status() >= 500 {
			level = slog.LevelWarn
		}
		attrs := []any{"method", r.Method, "path", redactPath(r.URL.Path), "status", sw.status(),
			"durationMs", time.Since(start).Milliseconds(), "bytes", sw.bytes}
		if c := apigw.Caller(ctx); c != "" {
			attrs = append(attrs, "caller", c)
		}
		if ri.caller != "" {
			attrs = append(attrs, "keyId", ri.caller)
		}
		s.log.Log(lctx, level, "request", attrs...)
		endRequestSpan(span, r, sw.status(), ri.jobID)
		_ = s.metrics.Flush()
	}()
	// Past API_MAX_IN_FLIGHT: 503 API.OVERLOADED, health aside (shed.go).
	admitted, counted := s.admit(sw, r)
	if !admitted {
		return
	}
	if counted {
		defer s.shed.release()
	}
	s.dispatch(sw, r)
}

// dispatch routes r; unknown routes and wrong methods get the JSON error
// contract (internalhttp.ErrorBodies) instead of ServeMux's plain text.
func (s *Service) dispatch(w http.ResponseWriter, r *http.Request) {
	if !cleanPath(r.URL.Path) {
		// ServeMux would redirect; an API answers such paths with 404.
		apierror.Write(w, r, s.log, namespace, internalhttp.NotFound(r, namespace))
		return
	}
	s.routed.ServeHTTP(w, r)
}

// cleanPath reports whether p is absolute and has no empty, "." or ".."
// segments (a trailing slash is allowed).
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// endpoint adapts a handler that returns an error: the error is written
// with the error contract (a non-*apierror.Error becomes a generic 500,
// logged in full).
func (s *Service) endpoint(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			if ri, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok && ri.jobID != "" {
				r = r.WithContext(trace.WithJobID(r.Context(), ri.jobID))
			}
			apierror.Write(w, r, s.log, namespace, err)
		}
	})
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.code, w.wrote = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) status() int {
	if !w.wrote {
		return http.StatusOK
	}
	return w.code
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
