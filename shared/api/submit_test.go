package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/trace"
)

func TestSubmitPublishesJobCreated(t *testing.T) {
	b := setup(t, Config{})
	w := b.post(sampleJob, trace.HTTPHeader, "client-trace-1")
	a := accepted(t, w)
	if a.TraceID != "client-trace-1" || w.Header().Get(trace.HTTPHeader) != "client-trace-1" {
		t.Fatalf("traceId %q, X-Trace-Id %q; want the client's", a.TraceID, w.Header().Get(trace.HTTPHeader))
	}
	if uuid.Validate(a.JobID) != nil {
		t.Fatalf("jobId %q is not a UUID", a.JobID)
	}
	if loc := w.Header().Get("Location"); loc != "/api/jobs/"+a.JobID {
		t.Errorf("Location = %q", loc)
	}
	if w.Header().Get("Idempotent-Replayed") != "" {
		t.Errorf("a first submission is marked replayed")
	}

	recs := kafkatest.ReadAll(t, b.brokers, envelope.TopicJobCreated, 1, 15*time.Second)
	if len(recs) != 1 {
		t.Fatalf("read %d job-created records, want 1", len(recs))
	}
	rec := recs[0]
	headers := map[string]string{}
	for _, h := range rec.Headers {
		headers[h.Key] = string(h.Value)
	}
	if string(rec.Key) != a.JobID || headers[trace.KafkaTraceHeader] != a.TraceID || headers[trace.KafkaTypeHeader] != envelope.TypeJobCreated {
		t.Fatalf("record key %q headers %v; want key %s and traceId %s", rec.Key, headers, a.JobID, a.TraceID)
	}
	env, err := envelope.Decode(rec.Value)
	if err != nil {
		t.Fatal(err)
	}
	if env.Type != envelope.TypeJobCreated || env.JobID != a.JobID || env.TraceID != a.TraceID || env.EventID != headers[trace.KafkaEventHeader] {
		t.Fatalf("envelope = %+v", env)
	}
	var jc envelope.JobCreated
	if err := env.DecodePayload(&jc); err != nil {
		t.Fatal(err)
	}
	var steps struct {
		Steps []map[string]any `json:"steps"`
	}
	if err := json.Unmarshal(jc.Payload, &steps); err != nil {
		t.Fatalf("payload %s: %v", jc.Payload, err)
	}
	if jc.JobType != "SIMULATION" || jc.MaxRetryCount != 3 || len(steps.Steps) != 4 || steps.Steps[1]["action"] != "SLEEP" || steps.Steps[1]["durationMs"] != float64(2000) {
		t.Fatalf("JobCreated = %+v, steps %v", jc, steps.Steps)
	}

	// The row: its creation time is the event's, and the outbox is empty.
	var createdAt time.Time
	var traceID string
	var hash []byte
	if err := b.pool.QueryRow(context.Background(), `SELECT created_at, trace_id, request_hash FROM jobs WHERE id = $1`, a.JobID).
		Scan(&createdAt, &traceID, &hash); err != nil {
		t.Fatal(err)
	}
	if !createdAt.Equal(jc.CreatedAt) || traceID != a.TraceID || len(hash) != 32 {
		t.Fatalf("row created_at %v (event %v), trace %q, hash %d bytes", createdAt, jc.CreatedAt, traceID, len(hash))
	}
	if n := b.count(t, `SELECT count(*) FROM outbox`); n != 0 {
		t.Fatalf("%d rows left in the outbox", n)
	}

	// Every log line carries the service and the trace; the submission's
	// lines carry the job.
	sawAccepted, sawAccess := false, false
	for _, l := range b.logs.lines(t) {
		if l["service"] != "api" || l["traceId"] != "client-trace-1" {
			t.Errorf("log line without service or trace: %v", l)
		}
		switch l["msg"] {
		case "job accepted":
			sawAccepted = l["jobId"] == a.JobID
		case "request":
			sawAccess = l["jobId"] == a.JobID && l["status"] == float64(202) && l["method"] == "POST" && l["path"] == "/api/jobs"
		}
	}
	if !sawAccepted || !sawAccess {
		t.Errorf("missing 'job accepted' or access line with the jobId:\n%s", b.logs.String())
	}
}

func TestTraceID(t *testing.T) {
	b := setup(t, Config{})
	// Kept when valid, and echoed on errors too.
	for _, id := range []string{"abc", strings.Repeat("x", 128), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", uuid.NewString()} {
		w := b.do(http.MethodGet, "/nope", "", trace.HTTPHeader, id)
		if got := wantError(t, w, http.StatusNotFound, "API.NOT_FOUND"); got.TraceID != id {
			t.Errorf("X-Trace-Id %q not kept: %q", id, got.TraceID)
		}
	}
	// Generated when missing or invalid.
	seen := map[string]bool{}
	for _, id := range []string{"", strings.Repeat("x", 129), "has space", "tab\there", "ünïcode", "ctl\x01"} {
		var hdr []string
		if id != "" {
			hdr = []string{trace.HTTPHeader, id}
		}
		w := b.do(http.MethodGet, "/health", "", hdr...)
		got := w.Header().Get(trace.HTTPHeader)
		if got == id || uuid.Validate(got) != nil || seen[got] {
			t.Errorf("X-Trace-Id %q: answered %q, want a fresh UUID", id, got)
		}
		if replaced := w.Header().Get(trace.ReplacedHeader); replaced != map[bool]string{true: "", false: "true"}[id == ""] {
			t.Errorf("X-Trace-Id %q: %s %q", id, trace.ReplacedHeader, replaced)
		}
		seen[got] = true
	}
	if ValidTraceID("a b") || ValidTraceID("a/b") || !ValidTraceID("a-b_c.d:e") {
		t.Error("ValidTraceID disagrees with the documented rule")
	}
	// An invalid one is never echoed or logged: the log says it was replaced.
	evil := "evil\x1b[2J\r\nlevel=ERROR forged"
	w := b.post(sampleJob, trace.HTTPHeader, evil)
	a := accepted(t, w)
	if a.TraceID == evil || w.Header().Get(trace.ReplacedHeader) != "true" {
		t.Errorf("invalid X-Trace-Id: accepted %+v, headers %v", a, w.Header())
	}
	if logs := b.logs.String(); strings.Contains(logs, "evil") || strings.Contains(logs, "forged") || !strings.Contains(logs, "X-Trace-Id replaced") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestSubmitIdempotency(t *testing.T) {
	b := setup(t, Config{})
	first := accepted(t, b.post(sampleJob, "Idempotency-Key", "order-42", trace.HTTPHeader, "first-trace"))

	// The same submission, laid out differently and with maxRetryCount
	// left to its default, from another trace.
	same := `{"payload":{"steps":[{"message":"Starting simulation","action":"LOG"},{"durationMs":2000,"action":"SLEEP"},
		{"action":"COMPUTE","iterations":100000},{"action":"LOG","message":"Simulation complete"}]},"jobType":"SIMULATION"}`
	w := b.post(same, "Idempotency-Key", "order-42", trace.HTTPHeader, "second-trace")
	again := accepted(t, w)
	if again != first {
		t.Fatalf("repeat answered %+v, want the first answer %+v", again, first)
	}
	if w.Header().Get("Idempotent-Replayed") != "true" || w.Header().Get(trace.HTTPHeader) != "second-trace" {
		t.Errorf("repeat headers = %v", w.Header())
	}

	// The same key for another submission.
	other := strings.Replace(sampleJob, `"maxRetryCount": 3`, `"maxRetryCount": 5`, 1)
	e := wantError(t, b.post(other, "Idempotency-Key", "order-42"), http.StatusUnprocessableEntity, "API.IDEMPOTENCY_KEY_REUSED")
	if e.JobID != first.JobID {
		t.Errorf("422 names job %q, want %q", e.JobID, first.JobID)
	}

	if n := b.count(t, `SELECT count(*) FROM jobs`); n != 1 {
		t.Fatalf("%d jobs stored, want 1", n)
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobCreated); n != 1 {
		t.Fatalf("%d job-created records, want 1", n)
	}

	// Another key, or none, is another job.
	if a := accepted(t, b.post(sampleJob, "Idempotency-Key", "order-43")); a.JobID == first.JobID {
		t.Fatal("a new key returned the old job")
	}
	if a := accepted(t, b.post(sampleJob)); a.JobID == first.JobID {
		t.Fatal("no key returned the old job")
	}
	if n := b.count(t, `SELECT count(*) FROM jobs`); n != 3 {
		t.Fatalf("%d jobs stored, want 3", n)
	}

	// Key length.
	wantError(t, b.post(sampleJob, "Idempotency-Key", strings.Repeat("k", 256)), http.StatusBadRequest, "API.INVALID_REQUEST")
	accepted(t, b.post(sampleJob, "Idempotency-Key", strings.Repeat("k", 255)))
}

func TestSubmitIdempotencyConcurrent(t *testing.T) {
	b := setup(t, Config{})
	const n = 8
	ids := make([]string, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			w := b.post(sampleJob, "Idempotency-Key", "race")
			codes[i] = w.Code
			var a Accepted
			_ = json.Unmarshal(w.Body.Bytes(), &a)
			ids[i] = a.JobID
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if codes[i] != http.StatusAccepted || ids[i] == "" || ids[i] != ids[0] {
			t.Fatalf("request %d: %d %q, want 202 with %q", i, codes[i], ids[i], ids[0])
		}
	}
	if c := b.count(t, `SELECT count(*) FROM jobs`); c != 1 {
		t.Fatalf("%d jobs stored, want 1", c)
	}
	if c := kafkatest.Count(t, b.brokers, envelope.TopicJobCreated); c != 1 {
		t.Fatalf("%d job-created records, want 1", c)
	}
}

func TestSubmitRejects(t *testing.T) {
	b := setup(t, Config{BodyLimit: 2048})
	big := `{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"` + strings.Repeat("x", 2100) + `"}]}}`

	for _, ct := range []string{"", "text/plain", "application/jsonx", "application/json; charset=latin1", "application/json; v=2", "multipart/form-data; boundary=x", ";;"} {
		w := b.do(http.MethodPost, "/api/jobs", sampleJob, "Content-Type", ct)
		wantError(t, w, http.StatusUnsupportedMediaType, "API.UNSUPPORTED_MEDIA_TYPE")
	}
	for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON; Charset=UTF-8"} {
		accepted(t, b.do(http.MethodPost, "/api/jobs", sampleJob, "Content-Type", ct))
	}

	// Too large, with the length announced and without.
	wantError(t, b.post(big), http.StatusRequestEntityTooLarge, "API.PAYLOAD_TOO_LARGE")
	r := httptest.NewRequest(http.MethodPost, "/api/jobs", io.NopCloser(strings.NewReader(big)))
	r.ContentLength = -1
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	b.svc.HTTPHandler().ServeHTTP(w, r)
	wantError(t, w, http.StatusRequestEntityTooLarge, "API.PAYLOAD_TOO_LARGE")

	// Malformed and invalid bodies list their problems.
	e := wantError(t, b.post(`{"jobType": "SIMULATION",`), http.StatusBadRequest, "API.INVALID_REQUEST")
	if !strings.Contains(e.Message, "ends too early") || len(e.Details) != 1 {
		t.Errorf("malformed: %+v", e)
	}
	e = wantError(t, b.post(`{"jobType":"NOPE","payload":{"steps":[{"action":"SLEEP"}]},"maxRetryCount":50}`), http.StatusBadRequest, "API.INVALID_REQUEST")
	if len(e.Details) != 3 || !strings.Contains(e.Message, "payload.steps[0].durationMs: is required") {
		t.Errorf("invalid: %+v", e)
	}
	wantError(t, b.post(``), http.StatusBadRequest, "API.INVALID_REQUEST")
	wantError(t, b.post(sampleJob+`{}`), http.StatusBadRequest, "API.INVALID_REQUEST")

	if n := b.count(t, `SELECT count(*) FROM jobs`); n != 2 {
		t.Fatalf("%d jobs stored, want only the 2 accepted", n)
	}
}

func TestRouting(t *testing.T) {
	b := setup(t, Config{})
	id := uuid.NewString()
	for _, tc := range []struct{ method, target string }{
		{http.MethodGet, "/nope"},
		{http.MethodGet, "/"},
		{http.MethodGet, "/api"},
		{http.MethodGet, "/api/jobs/"},
		{http.MethodGet, "/api//jobs"},
		{http.MethodGet, "/api/jobs/" + id + "/"},
		{http.MethodGet, "/api/jobs/x/../" + id},
		{http.MethodGet, "/internal/jobs"},
		{http.MethodPost, "/api/nope"},
	} {
		wantError(t, b.do(tc.method, tc.target, ""), http.StatusNotFound, "API.NOT_FOUND")
	}
	for _, tc := range []struct{ method, target, allow string }{
		{http.MethodPut, "/api/jobs", "GET, HEAD, POST"},
		{http.MethodDelete, "/api/jobs", "GET, HEAD, POST"},
		{http.MethodPatch, "/api/jobs/" + id, "DELETE, GET, HEAD"},
		{http.MethodPost, "/api/jobs/" + id + "/executions", "GET, HEAD"},
		{http.MethodPost, "/health", "GET, HEAD"},
		{http.MethodDelete, "/api/dlq/" + id, "GET, HEAD"},
	} {
		w := b.do(tc.method, tc.target, "")
		wantError(t, w, http.StatusMethodNotAllowed, "API.METHOD_NOT_ALLOWED")
		if got := w.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow = %q, want %q", tc.method, tc.target, got, tc.allow)
		}
	}
	for _, target := range []string{"/api/jobs/not-a-uuid", "/api/jobs/a%2Fb", "/api/jobs/123"} {
		for _, method := range []string{http.MethodGet, http.MethodDelete} {
			wantError(t, b.do(method, target, ""), http.StatusBadRequest, "API.INVALID_JOB_ID")
		}
		wantError(t, b.do(http.MethodGet, target+"/executions", ""), http.StatusBadRequest, "API.INVALID_JOB_ID")
	}
	if len(b.sched.received())+len(b.worker.received()) != 0 {
		t.Error("a rejected request reached another function")
	}
}

func TestPanicIsAGeneric500(t *testing.T) {
	b := setup(t, Config{})
	b.svc.mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("secret detail in a panic") })
	w := b.do(http.MethodGet, "/boom", "", trace.HTTPHeader, "panic-trace")
	e := wantError(t, w, http.StatusInternalServerError, "API.INTERNAL_ERROR")
	if strings.Contains(w.Body.String(), "secret") || strings.Contains(w.Body.String(), "goroutine") || e.TraceID != "panic-trace" {
		t.Fatalf("panic response leaks: %s", w.Body.String())
	}
	logs := b.logs.String()
	if !strings.Contains(logs, "secret detail in a panic") || !strings.Contains(logs, "goroutine") {
		t.Fatalf("the panic and its stack were not logged:\n%s", logs)
	}
	// The service still serves.
	if w := b.do(http.MethodGet, "/health", ""); w.Code != http.StatusOK {
		t.Fatalf("health after a panic = %d", w.Code)
	}
}

func TestHandle(t *testing.T) {
	b := setup(t, Config{})
	ev := map[string]any{
		"version": "2.0", "routeKey": "$default", "rawPath": "/api/jobs", "rawQueryString": "",
		"headers": map[string]string{"content-type": "application/json", "x-trace-id": "lambda-trace"},
		"requestContext": map[string]any{"http": map[string]any{"method": "POST", "path": "/api/jobs"},
			// What API Gateway's JWT authorizer adds (a client credentials token).
			"authorizer": map[string]any{"jwt": map[string]any{"claims": map[string]string{"client_id": "app-client-7", "scope": "jobweaver/write"}}}},
		"body":            sampleJob,
		"isBase64Encoded": false,
	}
	payload, _ := json.Marshal(ev)
	out, err := b.svc.Handle(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	// What Lambda sends back is the v2 response JSON.
	raw, _ := json.Marshal(out)
	var resp struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatal(err)
	}
	var a Accepted
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal([]byte(resp.Body), &a) != nil || a.TraceID != "lambda-trace" ||
		resp.Headers["X-Trace-Id"] != "lambda-trace" {
		t.Fatalf("response = %+v", resp)
	}

	// The access log names the caller the authorizer let in.
	if !strings.Contains(b.logs.String(), `"caller":"app-client-7"`) {
		t.Errorf("no access line with the caller:\n%s", b.logs.String())
	}

	for _, p := range []string{
		`{"eventSource":"aws:kafka","records":{}}`,
		`{"detail-type":"Scheduled Event","source":"aws.events"}`,
		`{}`, `null`, `[]`,
	} {
		if _, err := b.svc.Handle(context.Background(), json.RawMessage(p)); err == nil {
			t.Errorf("Handle(%s) succeeded, want an error", p)
		}
	}
}
