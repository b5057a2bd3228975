package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/paging"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// jobSummaryKeys are the fields of a job as GET /api/jobs lists it.
var jobSummaryKeys = []string{"attempts", "createdAt", "createdBy", "finishedAt", "jobId", "jobType", "lastError", "lastErrorCode",
	"maxRetryCount", "nextRunAt", "startedAt", "status", "traceId", "truncated", "updatedAt"}

// jobViewKeys are the fields of a job as GET /api/jobs/{id} shows it.
var jobViewKeys = []string{"attempts", "createdAt", "createdBy", "finishedAt", "jobId", "jobType", "lastError", "lastErrorCode",
	"maxRetryCount", "nextRunAt", "payload", "startedAt", "status", "traceId", "updatedAt"}

func keysOf(t *testing.T, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// schedulerStatus is the scheduler's status JSON for a job.
func schedulerStatus(id, status string, attempts int) map[string]any {
	return map[string]any{
		"jobId": id, "jobType": "SIMULATION", "payload": map[string]any{"steps": []any{map[string]any{"action": "LOG", "message": "scheduler copy"}}},
		"maxRetryCount": 1, "traceId": "scheduler-copy-trace", "status": status, "attempts": attempts,
		"lastError": "step 2 (FAIL): simulated crash", "lastErrorCode": "WORKER.STEP_FAILED",
		"createdAt": "2024-05-01T12:00:00Z", "startedAt": "2024-05-01T12:00:01Z", "finishedAt": nil,
		"updatedAt": "2024-05-01T12:00:05Z", "nextRunAt": "2024-05-01T12:00:09Z", "version": 7,
	}
}

func TestGetJob(t *testing.T) {
	b := setup(t, Config{})
	unknown := uuid.NewString()
	e := wantError(t, b.do(http.MethodGet, "/api/jobs/"+unknown, ""), http.StatusNotFound, "API.JOB_NOT_FOUND")
	if e.JobID != unknown {
		t.Errorf("404 names %q", e.JobID)
	}
	// Upper-case UUIDs are the same job.
	a := accepted(t, b.post(sampleJob, trace.HTTPHeader, "submit-trace"))

	// Not ingested yet: PENDING from the api's own record.
	w := b.do(http.MethodGet, "/api/jobs/"+strings.ToUpper(a.JobID), "", trace.HTTPHeader, "get-trace")
	if w.Code != http.StatusOK {
		t.Fatalf("GET = %d %s", w.Code, w.Body.String())
	}
	if got := keysOf(t, w.Body.Bytes()); !reflect.DeepEqual(got, jobViewKeys) {
		t.Fatalf("job fields = %v, want %v", got, jobViewKeys)
	}
	var v JobView
	decodeStrict(t, w, &v)
	if v.JobID != a.JobID || v.Status != internalapi.StatusPending || v.Attempts != 0 || v.TraceID != "submit-trace" || v.JobType != "SIMULATION" ||
		v.MaxRetryCount != 3 || v.LastError != nil || v.StartedAt != nil || v.NextRunAt != nil || v.CreatedAt.IsZero() || !v.UpdatedAt.Equal(v.CreatedAt) {
		t.Fatalf("pending view = %+v", v)
	}
	var p struct {
		Steps []map[string]any `json:"steps"`
	}
	if err := json.Unmarshal(v.Payload, &p); err != nil || len(p.Steps) != 4 {
		t.Fatalf("payload %s: %v", v.Payload, err)
	}
	calls := b.sched.received()
	if len(calls) != 1 || calls[0].Method != http.MethodGet || calls[0].Path != "/internal/jobs/"+a.JobID+"/status" || calls[0].TraceID != "get-trace" {
		t.Fatalf("scheduler calls = %+v", calls)
	}

	createdAt := v.CreatedAt

	// Ingested: the live state merged with the submission as the api
	// stored it.
	b.sched.on("GET /internal/jobs/{id}/status", http.StatusOK, schedulerStatus(a.JobID, internalapi.StatusPending, 1))
	w = b.do(http.MethodGet, "/api/jobs/"+a.JobID, "")
	decodeStrict(t, w, &v)
	if v.Status != internalapi.StatusPending || v.Attempts != 1 || v.LastError == nil || *v.LastError != "step 2 (FAIL): simulated crash" ||
		*v.LastErrorCode != "WORKER.STEP_FAILED" || v.StartedAt == nil || v.FinishedAt != nil || v.NextRunAt == nil ||
		!v.NextRunAt.Equal(time.Date(2024, 5, 1, 12, 0, 9, 0, time.UTC)) || !v.UpdatedAt.Equal(time.Date(2024, 5, 1, 12, 0, 5, 0, time.UTC)) {
		t.Fatalf("live view = %+v", v)
	}
	if v.TraceID != "submit-trace" || v.MaxRetryCount != 3 || strings.Contains(string(v.Payload), "scheduler copy") || !v.CreatedAt.Equal(createdAt) {
		t.Fatalf("submission fields did not come from the api's record: %+v", v)
	}
	if got := keysOf(t, w.Body.Bytes()); !reflect.DeepEqual(got, jobViewKeys) {
		t.Fatalf("job fields = %v", got)
	}

	// The scheduler failing is a 503, whatever the way.
	b.sched.on("GET /internal/jobs/{id}/status", http.StatusInternalServerError, `{"errorCode":"SCHEDULER.INTERNAL_ERROR"}`)
	wantError(t, b.do(http.MethodGet, "/api/jobs/"+a.JobID, ""), http.StatusServiceUnavailable, "API.SCHEDULER_UNAVAILABLE")
	b.sched.on("GET /internal/jobs/{id}/status", http.StatusOK, `not json`)
	wantError(t, b.do(http.MethodGet, "/api/jobs/"+a.JobID, ""), http.StatusServiceUnavailable, "API.SCHEDULER_UNAVAILABLE")
	b.sched.fail(errors.New("Task timed out after 30.00 seconds"))
	e = wantError(t, b.do(http.MethodGet, "/api/jobs/"+a.JobID, ""), http.StatusServiceUnavailable, "API.SCHEDULER_UNAVAILABLE")
	if strings.Contains(e.Message, "timed out") {
		t.Errorf("503 shows the cause: %q", e.Message)
	}
	if !strings.Contains(b.logs.String(), "Task timed out") {
		t.Error("the cause of a 503 was not logged")
	}
}

func TestListJobs(t *testing.T) {
	b := setup(t, Config{PageSizeMax: 50})
	for _, q := range []string{
		"page=-1", "page=x", "size=0", "size=abc", "status=DONE", "status=pending", "type=BATCH",
		"createdFrom=yesterday", "createdTo=2024-13-01T00:00:00Z", "createdFrom=2024-05-01",
		"createdFrom=2024-05-02T00:00:00Z&createdTo=2024-05-01T00:00:00Z",
		"traceId=" + strings.Repeat("t", 129), "traceId=a%20b",
	} {
		wantError(t, b.do(http.MethodGet, "/api/jobs?"+q, ""), http.StatusBadRequest, "API.INVALID_REQUEST")
	}
	if n := len(b.sched.received()); n != 0 {
		t.Fatalf("invalid lists reached the scheduler %d times", n)
	}

	id1, id2 := uuid.NewString(), uuid.NewString()
	done := schedulerStatus(id2, internalapi.StatusCompleted, 1)
	done["lastError"], done["lastErrorCode"], done["finishedAt"] = "", nil, "2024-05-01T12:00:07Z"
	b.sched.on("GET /internal/jobs", http.StatusOK, map[string]any{
		"content": []any{schedulerStatus(id1, internalapi.StatusRunning, 2), done},
		"page":    1, "size": 50, "totalElements": 52, "totalPages": 2,
	})
	q := url.Values{
		"page": {"1"}, "size": {"500"}, "type": {"SIMULATION"}, "status": {"RUNNING"}, "traceId": {"abc-1"},
		"createdFrom": {"2024-05-01T12:00:00+02:00"}, "createdTo": {"2024-05-02T00:00:00.5Z"}, "ignored": {"x"},
	}
	w := b.do(http.MethodGet, "/api/jobs?"+q.Encode(), "", trace.HTTPHeader, "list-trace")
	if w.Code != http.StatusOK {
		t.Fatalf("list = %d %s", w.Code, w.Body.String())
	}
	var page paging.Page[JobSummary]
	decodeStrict(t, w, &page)
	if page.Page != 1 || page.Size != 50 || page.TotalElements != 52 || page.TotalPages != 2 || len(page.Content) != 2 ||
		page.TotalIsEstimate || page.NextCursor != "" {
		t.Fatalf("page = %+v", page)
	}
	if j := page.Content[0]; j.JobID != id1 || j.Status != internalapi.StatusRunning || j.Attempts != 2 || j.TraceID != "scheduler-copy-trace" || j.LastErrorCode == nil {
		t.Fatalf("entry 0 = %+v", j)
	}
	if j := page.Content[1]; j.Status != internalapi.StatusCompleted || j.LastError != nil || j.LastErrorCode != nil || j.FinishedAt == nil {
		t.Fatalf("entry 1 = %+v", j)
	}
	var content []json.RawMessage
	var raw struct{ Content []json.RawMessage }
	_ = json.Unmarshal(w.Body.Bytes(), &raw)
	content = raw.Content
	if got := keysOf(t, content[0]); !reflect.DeepEqual(got, jobSummaryKeys) {
		t.Fatalf("entry fields = %v", got)
	}
	if got := keysOf(t, w.Body.Bytes()); !reflect.DeepEqual(got, []string{"content", "page", "size", "totalElements", "totalPages"}) {
		t.Fatalf("page fields = %v", got)
	}

	calls := b.sched.received()
	want := url.Values{
		"page": {"1"}, "size": {"50"}, "type": {"SIMULATION"}, "status": {"RUNNING"}, "traceId": {"abc-1"},
		"createdFrom": {"2024-05-01T10:00:00Z"}, "createdTo": {"2024-05-02T00:00:00.5Z"},
	}
	if len(calls) != 1 || calls[0].Path != "/internal/jobs" || !reflect.DeepEqual(calls[0].Query, want) || calls[0].TraceID != "list-trace" {
		t.Fatalf("scheduler got %+v, want query %v", calls, want)
	}

	// Defaults; an offset whose + was not encoded.
	b.do(http.MethodGet, "/api/jobs", "")
	b.do(http.MethodGet, "/api/jobs?createdFrom=2024-05-01T12:00:00+02:00", "")
	calls = b.sched.received()
	if q := calls[1].Query; q.Get("page") != "0" || q.Get("size") != "20" || len(q) != 2 {
		t.Fatalf("default query = %v", q)
	}
	if q := calls[2].Query; q.Get("createdFrom") != "2024-05-01T10:00:00Z" {
		t.Fatalf("unencoded offset = %v", q)
	}

	// The scheduler refusing the query, or failing.
	b.sched.on("GET /internal/jobs", http.StatusBadRequest, map[string]any{"status": 400, "errorCode": "SCHEDULER.INVALID_REQUEST", "message": "traceId filter is not supported"})
	e := wantError(t, b.do(http.MethodGet, "/api/jobs", ""), http.StatusBadRequest, "API.INVALID_REQUEST")
	if e.Message != "traceId filter is not supported" {
		t.Errorf("message = %q", e.Message)
	}
	b.sched.on("GET /internal/jobs", http.StatusServiceUnavailable, `{}`)
	wantError(t, b.do(http.MethodGet, "/api/jobs", ""), http.StatusServiceUnavailable, "API.SCHEDULER_UNAVAILABLE")
	b.sched.fail(errors.New("throttled"))
	wantError(t, b.do(http.MethodGet, "/api/jobs", ""), http.StatusServiceUnavailable, "API.SCHEDULER_UNAVAILABLE")
}

func TestListJobsByCursor(t *testing.T) {
	b := setup(t, Config{})
	next := paging.Cursor{Time: time.Date(2024, 5, 1, 12, 0, 0, 123456000, time.UTC), ID: uuid.NewString()}.Encode()
	b.sched.on("GET /internal/jobs", http.StatusOK, map[string]any{
		"content": []any{schedulerStatus(uuid.NewString(), internalapi.StatusRunning, 1)},
		"page":    0, "size": 1, "totalElements": 12000, "totalPages": 12000, "totalIsEstimate": true, "nextCursor": next,
	})
	w := b.do(http.MethodGet, "/api/jobs?size=1&status=RUNNING", "")
	var page paging.Page[JobSummary]
	decodeStrict(t, w, &page)
	if !page.TotalIsEstimate || page.NextCursor != next || page.TotalElements != 12000 || len(page.Content) != 1 {
		t.Fatalf("page = %+v", page)
	}
	if strings.Contains(w.Body.String(), "scheduler copy") {
		t.Fatalf("the list shows a payload: %s", w.Body)
	}
	// The cursor goes to the scheduler as it came, in place of page.
	w = b.do(http.MethodGet, "/api/jobs?size=1&status=RUNNING&cursor="+url.QueryEscape(page.NextCursor), "")
	if w.Code != http.StatusOK {
		t.Fatalf("by cursor = %d %s", w.Code, w.Body)
	}
	calls := b.sched.received()
	if q := calls[len(calls)-1].Query; q.Get("cursor") != next || q.Has("page") || q.Get("status") != "RUNNING" {
		t.Fatalf("scheduler query = %v", q)
	}
	n := len(calls)
	for _, bad := range []string{"cursor=x", "cursor=" + next + "&page=0", "cursor=" + strings.Repeat("Q", 129)} {
		wantError(t, b.do(http.MethodGet, "/api/jobs?"+bad, ""), http.StatusBadRequest, "API.INVALID_CURSOR")
	}
	if len(b.sched.received()) != n {
		t.Fatal("a bad cursor reached the scheduler")
	}
}

func TestListExecutions(t *testing.T) {
	b := setup(t, Config{})
	wantError(t, b.do(http.MethodGet, "/api/jobs/"+uuid.NewString()+"/executions", ""), http.StatusNotFound, "API.JOB_NOT_FOUND")
	a := accepted(t, b.post(sampleJob))
	path := "/api/jobs/" + a.JobID + "/executions"
	wantError(t, b.do(http.MethodGet, path+"?size=0", ""), http.StatusBadRequest, "API.INVALID_REQUEST")

	// No attempt has finished: the worker knows nothing.
	w := b.do(http.MethodGet, path, "")
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"content":[],"page":0,"size":20,"totalElements":0,"totalPages":0}` {
		t.Fatalf("no executions = %d %s", w.Code, w.Body.String())
	}

	failed := map[string]any{
		"eventId": uuid.NewString(), "attempt": 1, "status": "FAILED",
		"startedAt": "2024-05-01T12:00:01Z", "finishedAt": "2024-05-01T12:00:03Z", "durationMs": 2000,
		"errorCode": "WORKER.STEP_FAILED", "error": "step 1 (FAIL): simulated crash",
		"steps": []any{
			map[string]any{"index": 0, "action": "LOG", "status": "SUCCEEDED", "durationMs": 0},
			map[string]any{"index": 1, "action": "FAIL", "status": "FAILED", "durationMs": 1, "error": "simulated crash"},
		},
	}
	ok := map[string]any{
		"eventId": uuid.NewString(), "attempt": 2, "status": "COMPLETED",
		"startedAt": "2024-05-01T12:00:09Z", "finishedAt": "2024-05-01T12:00:10Z", "durationMs": 1000,
		"errorCode": "", "steps": []any{map[string]any{"index": 0, "action": "LOG", "status": "SUCCEEDED", "durationMs": 0, "error": ""}},
	}
	b.worker.on("GET /internal/executions/{id}", http.StatusOK, map[string]any{
		"content": []any{failed, ok}, "page": 0, "size": 5, "totalElements": 2, "totalPages": 1,
	})
	w = b.do(http.MethodGet, path+"?page=0&size=5", "", trace.HTTPHeader, "exec-trace")
	var page paging.Page[Execution]
	decodeStrict(t, w, &page)
	if page.TotalElements != 2 || page.Size != 5 || len(page.Content) != 2 {
		t.Fatalf("page = %+v", page)
	}
	e1, e2 := page.Content[0], page.Content[1]
	if e1.Attempt != 1 || e1.Status != "FAILED" || *e1.ErrorCode != "WORKER.STEP_FAILED" || len(e1.Steps) != 2 || *e1.Steps[1].Error != "simulated crash" || e1.Steps[0].Error != nil || e1.DurationMs != 2000 {
		t.Fatalf("execution 1 = %+v", e1)
	}
	if e2.ErrorCode != nil || e2.Error != nil || e2.Steps[0].Error != nil {
		t.Fatalf("execution 2 = %+v (empty strings must be null)", e2)
	}
	var raw struct {
		Content []map[string]any `json:"content"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &raw)
	wantKeys := []string{"attempt", "durationMs", "error", "errorCode", "eventId", "finishedAt", "startedAt", "status", "steps"}
	b2, _ := json.Marshal(raw.Content[1])
	if got := keysOf(t, b2); !reflect.DeepEqual(got, wantKeys) {
		t.Fatalf("execution fields = %v, want %v", got, wantKeys)
	}
	calls := b.worker.received()
	last := calls[len(calls)-1]
	if last.Path != "/internal/executions/"+a.JobID || last.Query["page"][0] != "0" || last.Query["size"][0] != "5" || last.TraceID != "exec-trace" {
		t.Fatalf("worker got %+v", last)
	}

	b.worker.on("GET /internal/executions/{id}", http.StatusInternalServerError, `{}`)
	wantError(t, b.do(http.MethodGet, path, ""), http.StatusServiceUnavailable, "API.WORKER_UNAVAILABLE")
	b.worker.fail(errors.New("worker gone"))
	wantError(t, b.do(http.MethodGet, path, ""), http.StatusServiceUnavailable, "API.WORKER_UNAVAILABLE")
}

func TestCancelJob(t *testing.T) {
	b := setup(t, Config{})
	wantError(t, b.do(http.MethodDelete, "/api/jobs/"+uuid.NewString(), ""), http.StatusNotFound, "API.JOB_NOT_FOUND")
	a := accepted(t, b.post(sampleJob, trace.HTTPHeader, "submit-trace"))
	path := "/api/jobs/" + a.JobID

	cancelled := schedulerStatus(a.JobID, internalapi.StatusCancelled, 1)
	cancelled["finishedAt"] = "2024-05-01T12:00:06Z"
	b.sched.on("POST /internal/jobs/{id}/cancel", http.StatusOK, cancelled)
	w := b.do(http.MethodDelete, path, "", trace.HTTPHeader, "cancel-trace")
	var v JobView
	decodeStrict(t, w, &v)
	if w.Code != http.StatusOK || v.Status != internalapi.StatusCancelled || v.JobID != a.JobID || v.TraceID != "submit-trace" || v.FinishedAt == nil || v.Attempts != 1 {
		t.Fatalf("cancel = %d %+v", w.Code, v)
	}

	// The scheduler got the job as it was created, with its trace.
	calls := b.sched.received()
	c := calls[len(calls)-1]
	if c.Method != http.MethodPost || c.Path != "/internal/jobs/"+a.JobID+"/cancel" || c.TraceID != "cancel-trace" {
		t.Fatalf("scheduler call = %+v", c)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal([]byte(c.Body), &body); err != nil {
		t.Fatalf("cancel body %q: %v", c.Body, err)
	}
	if got := keysOf(t, []byte(c.Body)); !reflect.DeepEqual(got, []string{"by", "createdAt", "createdBy", "jobType", "maxRetryCount", "payload", "traceId"}) {
		t.Fatalf("cancel body fields = %v", got)
	}
	var spec struct {
		JobType       string    `json:"jobType"`
		MaxRetryCount int       `json:"maxRetryCount"`
		TraceID       string    `json:"traceId"`
		CreatedAt     time.Time `json:"createdAt"`
		Payload       struct {
			Steps []map[string]any `json:"steps"`
		} `json:"payload"`
	}
	_ = json.Unmarshal([]byte(c.Body), &spec)
	if spec.JobType != "SIMULATION" || spec.MaxRetryCount != 3 || spec.TraceID != "submit-trace" || len(spec.Payload.Steps) != 4 || !spec.CreatedAt.Equal(v.CreatedAt) {
		t.Fatalf("cancel body = %+v", spec)
	}

	// A 200 without a usable body still answers CANCELLED.
	b.sched.on("POST /internal/jobs/{id}/cancel", http.StatusOK, ``)
	decodeStrict(t, b.do(http.MethodDelete, path, ""), &v)
	if v.Status != internalapi.StatusCancelled || v.JobID != a.JobID {
		t.Fatalf("cancel with an empty body = %+v", v)
	}

	// Not cancellable: the status named by the 409, or asked for.
	b.sched.on("POST /internal/jobs/{id}/cancel", http.StatusConflict,
		map[string]any{"status": 409, "errorCode": "SCHEDULER.JOB_NOT_CANCELLABLE", "message": "no", "currentStatus": "COMPLETED"})
	e := wantError(t, b.do(http.MethodDelete, path, ""), http.StatusConflict, "API.JOB_NOT_CANCELLABLE")
	if e.JobID != a.JobID || !strings.Contains(e.Message, "COMPLETED") {
		t.Fatalf("409 = %+v", e)
	}
	b.sched.on("POST /internal/jobs/{id}/cancel", http.StatusConflict, map[string]any{"status": 409, "errorCode": "SCHEDULER.JOB_NOT_CANCELLABLE"})
	b.sched.on("GET /internal/jobs/{id}/status", http.StatusOK, schedulerStatus(a.JobID, internalapi.StatusFailed, 4))
	e = wantError(t, b.do(http.MethodDelete, path, ""), http.StatusConflict, "API.JOB_NOT_CANCELLABLE")
	if !strings.Contains(e.Message, "FAILED") {
		t.Fatalf("409 message %q does not name the status", e.Message)
	}

	b.sched.on("POST /internal/jobs/{id}/cancel", http.StatusInternalServerError, `{}`)
	wantError(t, b.do(http.MethodDelete, path, ""), http.StatusServiceUnavailable, "API.SCHEDULER_UNAVAILABLE")
	b.sched.fail(errors.New("down"))
	wantError(t, b.do(http.MethodDelete, path, ""), http.StatusServiceUnavailable, "API.SCHEDULER_UNAVAILABLE")
}

func TestDeadLetters(t *testing.T) {
	b := setup(t, Config{})
	entry := map[string]any{
		"eventId": uuid.NewString(), "jobId": uuid.NewString(), "traceId": "t", "jobType": "SIMULATION",
		"reason": "RETRIES_EXHAUSTED", "errorCode": "WORKER.STEP_FAILED", "lastError": "boom",
		"attempts": []any{map[string]any{"attempt": 1, "outcome": "FAILED"}}, "failedAt": "2024-05-01T12:00:00Z",
		"status": "NEW", "somethingNew": map[string]any{"kept": true},
	}
	b.dlq.on("GET /internal/dlq", http.StatusOK, map[string]any{"content": []any{entry}, "page": 0, "size": 10, "totalElements": 1, "totalPages": 1})
	w := b.do(http.MethodGet, "/api/dlq?size=10", "")
	if w.Code != http.StatusOK {
		t.Fatalf("list = %d %s", w.Code, w.Body.String())
	}
	var page paging.Page[map[string]any]
	decodeStrict(t, w, &page)
	if page.TotalElements != 1 || len(page.Content) != 1 || page.Content[0]["eventId"] != entry["eventId"] || page.Content[0]["somethingNew"] == nil {
		t.Fatalf("page = %+v", page)
	}
	calls := b.dlq.received()
	if calls[0].Path != "/internal/dlq" || calls[0].Query["size"][0] != "10" || calls[0].Query["page"][0] != "0" {
		t.Fatalf("dlq got %+v", calls[0])
	}
	wantError(t, b.do(http.MethodGet, "/api/dlq?page=-3", ""), http.StatusBadRequest, "API.INVALID_REQUEST")
	wantError(t, b.do(http.MethodGet, "/api/dlq?cursor=nope", ""), http.StatusBadRequest, "API.INVALID_CURSOR")
	cursor := paging.Cursor{Time: time.Now(), ID: uuid.NewString()}.Encode()
	b.do(http.MethodGet, "/api/dlq?size=5&cursor="+cursor, "")
	if c := b.dlq.received(); c[len(c)-1].Query.Get("cursor") != cursor || c[len(c)-1].Query.Has("page") {
		t.Fatalf("cursor not forwarded: %v", c[len(c)-1].Query)
	}

	id := entry["eventId"].(string)
	b.dlq.on("GET /internal/dlq/{id}", http.StatusOK, entry)
	w = b.do(http.MethodGet, "/api/dlq/"+id, "")
	var got map[string]any
	decodeStrict(t, w, &got)
	if w.Code != http.StatusOK || got["eventId"] != id || got["reason"] != "RETRIES_EXHAUSTED" {
		t.Fatalf("entry = %d %v", w.Code, got)
	}
	if c := b.dlq.received(); c[len(c)-1].Path != "/internal/dlq/"+id {
		t.Fatalf("dlq got %+v", c[len(c)-1])
	}
	b.dlq.on("GET /internal/dlq/{id}", http.StatusNotFound, map[string]any{"errorCode": "DLQ.NOT_FOUND"})
	wantError(t, b.do(http.MethodGet, "/api/dlq/"+id, ""), http.StatusNotFound, "API.DLQ_ENTRY_NOT_FOUND")
	wantError(t, b.do(http.MethodGet, "/api/dlq/nope", ""), http.StatusBadRequest, "API.INVALID_REQUEST")
	b.dlq.on("GET /internal/dlq/{id}", http.StatusOK, `[1,2]`)
	wantError(t, b.do(http.MethodGet, "/api/dlq/"+id, ""), http.StatusServiceUnavailable, "API.DLQ_UNAVAILABLE")

	b.dlq.on("GET /internal/dlq", http.StatusBadGateway, `{}`)
	wantError(t, b.do(http.MethodGet, "/api/dlq", ""), http.StatusServiceUnavailable, "API.DLQ_UNAVAILABLE")
	b.dlq.fail(errors.New("no dlq"))
	wantError(t, b.do(http.MethodGet, "/api/dlq", ""), http.StatusServiceUnavailable, "API.DLQ_UNAVAILABLE")
	wantError(t, b.do(http.MethodGet, "/api/dlq/"+id, ""), http.StatusServiceUnavailable, "API.DLQ_UNAVAILABLE")
}

func TestHealth(t *testing.T) {
	b := setup(t, Config{})
	for _, p := range []string{"/health", "/actuator/health"} {
		w := b.do(http.MethodGet, p, "")
		if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"status":"UP","components":{"db":{"status":"UP"}}}` ||
			w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s = %d %s", p, w.Code, w.Body.String())
		}
	}
	b.pool.Close()
	for _, p := range []string{"/health", "/actuator/health"} {
		w := b.do(http.MethodGet, p, "")
		if w.Code != http.StatusServiceUnavailable || strings.TrimSpace(w.Body.String()) != `{"status":"DOWN","components":{"db":{"status":"DOWN"}}}` {
			t.Fatalf("%s with the database gone = %d %s", p, w.Code, w.Body.String())
		}
	}
}
