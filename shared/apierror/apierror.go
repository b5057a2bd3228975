// Package apierror is the platform's HTTP error contract: every error body
// is {timestamp, status, errorCode, message, jobId?, traceId} with a
// namespaced code such as API.INVALID_REQUEST or DLQ.NOT_FOUND.
package apierror

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// Error is an error with an HTTP status and a namespaced code.
type Error struct {
	Status  int
	Code    string
	Message string
	JobID   string
	// Details optionally lists the individual problems (for instance each
	// validation failure of a submission); Message summarizes them.
	Details []string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// New returns an *Error.
func New(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// WithJob returns a copy of e that names a job.
func (e *Error) WithJob(id string) *Error {
	c := *e
	c.JobID = id
	return &c
}

// Body is the JSON error body.
type Body struct {
	Timestamp time.Time `json:"timestamp"`
	Status    int       `json:"status"`
	ErrorCode string    `json:"errorCode"`
	Message   string    `json:"message"`
	JobID     string    `json:"jobId,omitempty"`
	TraceID   string    `json:"traceId"`
	Details   []string  `json:"details,omitempty"`
}

// Write sends err as a JSON error body. An error that is not an *Error is
// logged in full and answered as a 500 with a generic message and code
// namespace+".INTERNAL_ERROR", so no SQL text or stack ever leaves.
func Write(w http.ResponseWriter, r *http.Request, log *slog.Logger, namespace string, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if log != nil {
			log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
		}
		e = New(http.StatusInternalServerError, namespace+".INTERNAL_ERROR",
			"an internal error occurred; retry later, and quote the traceId if it persists")
	}
	WriteBody(w, Body{
		Timestamp: time.Now().UTC(),
		Status:    e.Status,
		ErrorCode: e.Code,
		Message:   e.Message,
		JobID:     e.JobID,
		TraceID:   trace.TraceID(r.Context()),
		Details:   e.Details,
	})
}

// WriteBody writes b with its status.
func WriteBody(w http.ResponseWriter, b Body) { httpjson.Write(w, b.Status, b) }
