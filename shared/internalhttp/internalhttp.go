// Package internalhttp builds the HTTP routes of a function: the
// internal routes of the scheduler (GET and POST), the worker and the dlq,
// with the database health check, and for every function, the api's
// public routes included, the platform error body for a request that
// matches no route (<Namespace>.NOT_FOUND) or not its method
// (<Namespace>.METHOD_NOT_ALLOWED, with Allow).
package internalhttp

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// Routes describes a function's internal routes.
type Routes struct {
	// Namespace names the function's error codes: "WORKER" makes
	// WORKER.NOT_FOUND, WORKER.METHOD_NOT_ALLOWED and, for errors that
	// are not the platform's, WORKER.INTERNAL_ERROR.
	Namespace string
	// Handlers serve the routes, by net/http pattern with its method:
	// "GET /internal/dlq/{id}", "POST /internal/attempts/start". A GET
	// route answers HEAD too.
	Handlers map[string]http.HandlerFunc
	// Health answers GET /health and GET /actuator/health
	// (pgdb.HealthHandler).
	Health http.HandlerFunc
	// Log receives the errors that are not the platform's (500s).
	Log *slog.Logger
}

// Handler returns the routes behind trace.Middleware.
func (rt Routes) Handler() http.Handler {
	mux := http.NewServeMux()
	for pattern, h := range rt.Handlers {
		mux.HandleFunc(pattern, h)
	}
	if rt.Health != nil {
		mux.HandleFunc("GET /health", rt.Health)
		mux.HandleFunc("GET /actuator/health", rt.Health)
	}
	return trace.Middleware(ErrorBodies(mux, rt.Namespace, rt.Log))
}

// ErrorBodies serves mux, and answers a request that matches no route
// (404, <namespace>.NOT_FOUND) or no method of its route (405,
// <namespace>.METHOD_NOT_ALLOWED, with the mux's Allow header) with an
// apierror body instead of the mux's plain text.
func ErrorBodies(mux *http.ServeMux, namespace string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// No route: the mux's own handler tells 404 from 405 (with Allow).
		p := &probe{header: http.Header{}, code: http.StatusNotFound}
		h.ServeHTTP(p, r)
		if allow := p.header.Get("Allow"); p.code == http.StatusMethodNotAllowed && allow != "" {
			w.Header().Set("Allow", allow)
			apierror.Write(w, r, log, namespace, apierror.New(http.StatusMethodNotAllowed, namespace+".METHOD_NOT_ALLOWED",
				fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow)))
			return
		}
		apierror.Write(w, r, log, namespace, NotFound(r, namespace))
	})
}

// NotFound is the error of a request that matches no route.
func NotFound(r *http.Request, namespace string) *apierror.Error {
	return apierror.New(http.StatusNotFound, namespace+".NOT_FOUND", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
}

// probe records the status and headers a handler writes and drops its
// body.
type probe struct {
	header http.Header
	code   int
}

func (p *probe) Header() http.Header         { return p.header }
func (p *probe) WriteHeader(code int)        { p.code = code }
func (p *probe) Write(b []byte) (int, error) { return len(b), nil }
