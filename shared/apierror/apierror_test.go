package apierror_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/trace"
)

func decode(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	return m
}

func TestWriteAPIError(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodGet, "/api/jobs/x", nil)
	r = r.WithContext(trace.WithTraceID(r.Context(), "trace-9"))
	w := httptest.NewRecorder()
	err := apierror.New(http.StatusNotFound, "API.JOB_NOT_FOUND", "no job with id x").WithJob("x")
	// Wrapped errors are found too.
	apierror.Write(w, r, nil, "API", fmt.Errorf("lookup: %w", err))
	if w.Code != http.StatusNotFound {
		t.Fatalf("status = %d", w.Code)
	}
	m := decode(t, w)
	if m["status"] != float64(404) || m["errorCode"] != "API.JOB_NOT_FOUND" || m["message"] != "no job with id x" ||
		m["jobId"] != "x" || m["traceId"] != "trace-9" {
		t.Fatalf("body = %v", m)
	}
	if _, ok := m["details"]; ok {
		t.Errorf("details present without details: %v", m)
	}
	ts, _ := m["timestamp"].(string)
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("timestamp %q: %v", ts, err)
	}
	if err.Error() != "API.JOB_NOT_FOUND: no job with id x" {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestWriteDetailsAndNoJob(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodPost, "/api/jobs", nil)
	w := httptest.NewRecorder()
	e := apierror.New(http.StatusBadRequest, "API.INVALID_REQUEST", "invalid")
	e.Details = []string{"a: bad", "b: worse"}
	apierror.Write(w, r, nil, "API", e)
	m := decode(t, w)
	if _, ok := m["jobId"]; ok {
		t.Errorf("jobId present: %v", m)
	}
	if d, _ := m["details"].([]any); len(d) != 2 || d[0] != "a: bad" {
		t.Errorf("details = %v", m["details"])
	}
	if _, ok := m["traceId"]; !ok {
		t.Errorf("traceId missing (it is always present, empty without one): %v", m)
	}
}

func TestWithJobCopies(t *testing.T) {
	t.Parallel()
	base := apierror.New(http.StatusNotFound, "X.NOT_FOUND", "m")
	with := base.WithJob("j")
	if base.JobID != "" || with.JobID != "j" || with.Code != base.Code {
		t.Fatalf("WithJob changed the original or lost fields: %+v %+v", base, with)
	}
}

// Any other error is a generic 500 that shows nothing of the cause, which
// is logged in full.
func TestWriteInternalErrorHidesCause(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	r := httptest.NewRequest(http.MethodPost, "/api/jobs", nil)
	r = r.WithContext(trace.WithTraceID(r.Context(), "t-500"))
	w := httptest.NewRecorder()
	cause := errors.New(`ERROR: relation "jobs" does not exist (SQLSTATE 42P01) SELECT id FROM jobs`)
	apierror.Write(w, r, log, "SCHEDULER", cause)
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d", w.Code)
	}
	m := decode(t, w)
	if m["errorCode"] != "SCHEDULER.INTERNAL_ERROR" || m["traceId"] != "t-500" {
		t.Fatalf("body = %v", m)
	}
	for _, leak := range []string{"SELECT", "SQLSTATE", "relation", "jobs"} {
		if strings.Contains(w.Body.String(), leak) {
			t.Errorf("body %s leaks %q", w.Body.String(), leak)
		}
	}
	if !strings.Contains(logs.String(), "SQLSTATE 42P01") || !strings.Contains(logs.String(), `"path":"/api/jobs"`) {
		t.Errorf("the cause was not logged: %s", logs.String())
	}
	// A nil logger is allowed.
	apierror.Write(httptest.NewRecorder(), r, nil, "API", cause)
}
