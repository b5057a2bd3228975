package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/internalapi"
)

func TestJobHistory(t *testing.T) {
	b := setup(t, Config{})
	a := accepted(t, b.post(sampleJob))

	// Not ingested yet: submitted, at the api's own time.
	b.sched.on("GET /internal/jobs/{id}/history", http.StatusNotFound, `{"errorCode":"SCHEDULER.JOB_NOT_FOUND"}`)
	w := b.do(http.MethodGet, "/api/jobs/"+a.JobID+"/history", "")
	var h JobHistory
	if w.Code != http.StatusOK {
		t.Fatalf("history = %d %s", w.Code, w.Body)
	}
	decodeStrict(t, w, &h)
	if h.JobID != a.JobID || len(h.Events) != 1 || h.Events[0].Type != internalapi.EventSubmitted || h.Events[0].At.IsZero() {
		t.Fatalf("history before ingestion = %+v", h)
	}

	// The scheduler's history, relayed.
	next := time.Date(2026, 12, 4, 10, 0, 3, 0, time.UTC)
	b.sched.on("GET /internal/jobs/{id}/history", http.StatusOK, internalapi.JobHistory{JobID: a.JobID, Events: []internalapi.HistoryEvent{
		{At: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), Type: internalapi.EventSubmitted},
		{At: time.Date(2026, 12, 4, 10, 0, 1, 0, time.UTC), Type: internalapi.EventAttemptFailed, Attempt: 1, Message: "boom", ErrorCode: "WORKER.STEP_FAILED"},
		{At: time.Date(2026, 12, 4, 10, 0, 1, 0, time.UTC), Type: internalapi.EventRetryScheduled, Attempt: 2, NextRunAt: &next},
		{At: time.Date(2026, 12, 4, 10, 5, 0, 0, time.UTC), Type: internalapi.EventManualRetry, Attempt: 3, By: "anonymous", DLQID: uuid.NewString()},
	}})
	w = b.do(http.MethodGet, "/api/jobs/"+a.JobID+"/history", "")
	h = JobHistory{}
	decodeStrict(t, w, &h)
	if len(h.Events) != 4 || h.Events[2].NextRunAt == nil || !h.Events[2].NextRunAt.Equal(next) || h.Events[3].By != "anonymous" {
		t.Fatalf("history = %+v", h)
	}
	// Absent fields are left out.
	var raw struct{ Events []json.RawMessage }
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil || len(raw.Events) != 4 {
		t.Fatalf("%s: %v", w.Body, err)
	}
	if got := keysOf(t, raw.Events[0]); !reflect.DeepEqual(got, []string{"at", "type"}) {
		t.Fatalf("SUBMITTED fields = %v", got)
	}
	calls := b.sched.received()
	if last := calls[len(calls)-1]; last.Method != http.MethodGet || last.Path != internalapi.JobHistoryPath(a.JobID) {
		t.Fatalf("scheduler got %+v", last)
	}

	wantError(t, b.do(http.MethodGet, "/api/jobs/"+uuid.NewString()+"/history", ""), http.StatusNotFound, "API.JOB_NOT_FOUND")
	wantError(t, b.do(http.MethodGet, "/api/jobs/nope/history", ""), http.StatusBadRequest, "API.INVALID_JOB_ID")
	b.sched.on("GET /internal/jobs/{id}/history", http.StatusInternalServerError, `{}`)
	wantError(t, b.do(http.MethodGet, "/api/jobs/"+a.JobID+"/history", ""), http.StatusServiceUnavailable, "API.SCHEDULER_UNAVAILABLE")
}

func TestListJobsUpdatedSince(t *testing.T) {
	b := setup(t, Config{})
	wantError(t, b.do(http.MethodGet, "/api/jobs?updatedSince=yesterday", ""), http.StatusBadRequest, "API.INVALID_REQUEST")
	asOf := "2026-12-04T10:00:00.123456Z"
	b.sched.on("GET /internal/jobs", http.StatusOK, map[string]any{
		"content": []any{schedulerStatus(uuid.NewString(), internalapi.StatusRunning, 1)},
		"page":    0, "size": 20, "totalElements": 1, "totalPages": 1, "asOf": asOf,
	})
	w := b.do(http.MethodGet, "/api/jobs?status=RUNNING&updatedSince=2026-12-04T11:00:00%2B01:00", "")
	var page JobPage
	decodeStrict(t, w, &page)
	if page.AsOf == nil || page.AsOf.Format(time.RFC3339Nano) != asOf || len(page.Content) != 1 {
		t.Fatalf("page = %+v", page)
	}
	calls := b.sched.received()
	want := url.Values{"page": {"0"}, "size": {"20"}, "status": {"RUNNING"}, "updatedSince": {"2026-12-04T10:00:00Z"}}
	if q := calls[len(calls)-1].Query; !reflect.DeepEqual(q, want) {
		t.Fatalf("scheduler query = %v; want %v", q, want)
	}
	// Without updatedSince, no asOf, even if the scheduler sends one.
	w = b.do(http.MethodGet, "/api/jobs", "")
	if got := keysOf(t, w.Body.Bytes()); !reflect.DeepEqual(got, []string{"content", "page", "size", "totalElements", "totalPages"}) {
		t.Fatalf("page fields = %v", got)
	}
	// A scheduler that ignored updatedSince (no asOf) is not trusted.
	b.sched.on("GET /internal/jobs", http.StatusOK, map[string]any{"content": []any{}, "page": 0, "size": 20, "totalElements": 0, "totalPages": 0})
	wantError(t, b.do(http.MethodGet, "/api/jobs?updatedSince=2026-12-04T10:00:00Z", ""), http.StatusServiceUnavailable, "API.SCHEDULER_UNAVAILABLE")
}
