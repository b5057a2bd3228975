// Package internalhttp builds the internal read-only HTTP routes of a
// function (the worker's executions, the dlq's entries): GET routes, a
// database health check, and every error a platform error body in the
// function's namespace, with the trace ID kept or made.
package internalhttp

import (
	"log/slog"
	"net/http"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// ReadOnly describes a function's read-only routes.
type ReadOnly struct {
	// Namespace names the function's error codes: <Namespace>.NOT_FOUND
	// for a request that matches no route, <Namespace>.METHOD_NOT_ALLOWED
	// for another method than GET on a route's path.
	Namespace string
	// Get serves GET (and HEAD) requests, by path pattern:
	// "/internal/dlq/{id}".
	Get map[string]http.HandlerFunc
	// Health answers GET /health and GET /actuator/health
	// (pgdb.HealthHandler).
	Health http.HandlerFunc
	// Log receives the errors that are not the platform's (500s).
	Log *slog.Logger
}

// Handler returns the routes behind trace.Middleware.
func (ro ReadOnly) Handler() http.Handler {
	mux := http.NewServeMux()
	notAllowed := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET")
		ro.fail(w, r, apierror.New(http.StatusMethodNotAllowed, ro.Namespace+".METHOD_NOT_ALLOWED", r.Method+" is not allowed here; use GET"))
	}
	for pattern, h := range ro.Get {
		mux.HandleFunc("GET "+pattern, h)
		mux.HandleFunc(pattern, notAllowed)
	}
	mux.HandleFunc("GET /health", ro.Health)
	mux.HandleFunc("GET /actuator/health", ro.Health)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		ro.fail(w, r, apierror.New(http.StatusNotFound, ro.Namespace+".NOT_FOUND", "no route "+r.Method+" "+r.URL.Path))
	})
	return trace.Middleware(mux)
}

func (ro ReadOnly) fail(w http.ResponseWriter, r *http.Request, err error) {
	apierror.Write(w, r, ro.Log, ro.Namespace, err)
}
