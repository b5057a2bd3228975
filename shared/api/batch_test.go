package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/trace"
)

func batchBody(n int, bad int) string {
	var jobs []string
	for i := 0; i < n; i++ {
		d := 10
		if i == bad {
			d = -1
		}
		jobs = append(jobs, fmt.Sprintf(`{"jobType":"SIMULATION","payload":{"steps":[{"action":"SLEEP","durationMs":%d}]},"maxRetryCount":1}`, d))
	}
	return `{"jobs":[` + strings.Join(jobs, ",") + `]}`
}

func TestBatchSubmit(t *testing.T) {
	b := setup(t, Config{})
	w := b.do(http.MethodPost, "/api/jobs/batch", batchBody(50, -1), "Content-Type", "application/json", "X-Trace-Id", "batch-trace")
	if w.Code != http.StatusAccepted {
		t.Fatalf("batch = %d %s", w.Code, w.Body)
	}
	var out BatchAccepted
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Jobs) != 50 {
		t.Fatalf("%d jobs accepted", len(out.Jobs))
	}
	seen := map[string]bool{}
	for _, a := range out.Jobs {
		if a.TraceID != "batch-trace" || seen[a.JobID] {
			t.Fatalf("entry %+v", a)
		}
		seen[a.JobID] = true
	}
	if n := b.count(t, `SELECT count(*) FROM jobs`); n != 50 {
		t.Errorf("jobs stored = %d", n)
	}
	if n := b.count(t, `SELECT count(*) FROM outbox`); n != 0 {
		t.Errorf("outbox rows left = %d", n)
	}
	recs := kafkatest.ReadAll(t, b.brokers, envelope.TopicJobCreated, 50, 10*time.Second)
	if len(recs) != 50 {
		t.Fatalf("%d job-created records", len(recs))
	}
	for _, r := range recs {
		if !seen[string(r.Key)] {
			t.Errorf("record for unknown job %s", r.Key)
		}
	}
}

func TestBatchIsAllOrNothing(t *testing.T) {
	b := setup(t, Config{})
	cases := []struct{ name, body string }{
		{"one invalid job", batchBody(5, 3)},
		{"empty", `{"jobs":[]}`},
		{"missing", `{}`},
		{"unknown field", `{"jobs":[],"x":1}`},
		{"field name in another case", strings.Replace(batchBody(2, -1), `"jobs"`, `"JOBS"`, 1)},
		{"jobs given twice", strings.Replace(batchBody(1, -1), `{"jobs":`, `{"jobs":[],"jobs":`, 1)},
		{"too many", batchBody(MaxBatchJobs+1, -1)},
	}
	for _, c := range cases {
		w := b.do(http.MethodPost, "/api/jobs/batch", c.body, "Content-Type", "application/json")
		if w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: %d %s", c.name, w.Code, w.Body)
		}
	}
	w := b.do(http.MethodPost, "/api/jobs/batch", batchBody(5, 3), "Content-Type", "application/json")
	if !strings.Contains(w.Body.String(), "jobs[3].payload.steps[0].durationMs") {
		t.Errorf("the error does not name the job: %s", w.Body)
	}
	if n := b.count(t, `SELECT count(*) FROM jobs`); n != 0 {
		t.Errorf("jobs stored = %d", n)
	}
}

// postBatch posts body as a batch and decodes the 202.
func (b *bundle) postBatch(t *testing.T, body string, hdr ...string) (BatchAccepted, *httptest.ResponseRecorder) {
	t.Helper()
	w := b.do(http.MethodPost, "/api/jobs/batch", body, append([]string{"Content-Type", "application/json"}, hdr...)...)
	if w.Code != http.StatusAccepted {
		t.Fatalf("batch = %d %s", w.Code, w.Body)
	}
	var out BatchAccepted
	decodeStrict(t, w, &out)
	return out, w
}

func TestBatchIdempotencyKey(t *testing.T) {
	b := setup(t, Config{})
	first, w := b.postBatch(t, batchBody(3, -1), "Idempotency-Key", "batch-1", trace.HTTPHeader, "first-trace")
	if w.Header().Get("Idempotent-Replayed") != "" {
		t.Errorf("a first batch is marked replayed")
	}
	// The same jobs in another layout and key order are the same batch.
	relaid := strings.ReplaceAll(batchBody(3, -1), `{"jobType":"SIMULATION","payload":`, "{ \"maxRetryCount\": 1, \"jobType\" : \"SIMULATION\",\n\"payload\":")
	relaid = strings.ReplaceAll(relaid, `]},"maxRetryCount":1}`, `]}}`)
	for _, body := range []string{batchBody(3, -1), relaid} {
		again, w := b.postBatch(t, body, "Idempotency-Key", "batch-1", trace.HTTPHeader, "second-trace")
		if !reflect.DeepEqual(first, again) {
			t.Errorf("replay %s:\n%+v\nthen\n%+v", body, first, again)
		}
		if w.Header().Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay not marked: %v", w.Header())
		}
	}
	for _, a := range first.Jobs {
		if a.TraceID != "first-trace" {
			t.Errorf("job %s has trace %q", a.JobID, a.TraceID)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM jobs`); n != 3 {
		t.Errorf("jobs stored = %d", n)
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobCreated); n != 3 {
		t.Errorf("job-created records = %d", n)
	}
}

// TestBatchKeyNamespace is the case of issue 8: a batch whose key K
// collides with a single's "K/1" used to answer 422 with the single's job
// ID, after storing its own job 0, which then ran. Batch keys now have a
// namespace of their own.
func TestBatchKeyNamespace(t *testing.T) {
	b := setup(t, Config{})
	single := accepted(t, b.post(sampleJob, "Idempotency-Key", "K/1"))
	sameKey := accepted(t, b.post(sampleJob, "Idempotency-Key", "K"))

	out, _ := b.postBatch(t, batchBody(3, -1), "Idempotency-Key", "K")
	if len(out.Jobs) != 3 {
		t.Fatalf("%d jobs accepted", len(out.Jobs))
	}
	for _, a := range out.Jobs {
		if a.JobID == single.JobID || a.JobID == sameKey.JobID {
			t.Errorf("the batch answers with a single's job %s", a.JobID)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM jobs`); n != 5 {
		t.Errorf("jobs stored = %d, want 2 singles and 3 batch jobs", n)
	}
	// The singles keep their keys and their jobs.
	for key, id := range map[string]string{"K/1": single.JobID, "K": sameKey.JobID} {
		if n := b.count(t, `SELECT count(*) FROM jobs WHERE idempotency_key = $1 AND id = $2`, key, id); n != 1 {
			t.Errorf("single under %q lost its job", key)
		}
		if again := accepted(t, b.post(sampleJob, "Idempotency-Key", key)); again.JobID != id {
			t.Errorf("single under %q now answers %s, want %s", key, again.JobID, id)
		}
	}
	// A single with the key a batch job used to get is a new single.
	fresh := accepted(t, b.post(sampleJob, "Idempotency-Key", "K/0"))
	for _, a := range out.Jobs {
		if a.JobID == fresh.JobID {
			t.Errorf("single K/0 answers the batch's job %s", a.JobID)
		}
	}
}

func TestBatchKeyReusedStoresNothing(t *testing.T) {
	b := setup(t, Config{})
	first, _ := b.postBatch(t, batchBody(2, -1), "Idempotency-Key", "shared-key")
	for _, body := range []string{
		batchBody(3, -1), // one more job
		strings.Replace(batchBody(2, -1), `"durationMs":10`, `"durationMs":11`, 1),       // another step
		strings.Replace(batchBody(2, -1), `"maxRetryCount":1}`, `"maxRetryCount":2}`, 1), // another budget
	} {
		w := b.do(http.MethodPost, "/api/jobs/batch", body, "Content-Type", "application/json", "Idempotency-Key", "shared-key")
		e := wantError(t, w, http.StatusUnprocessableEntity, "API.IDEMPOTENCY_KEY_REUSED")
		if e.JobID != "" {
			t.Errorf("the 422 names job %q", e.JobID)
		}
		for _, a := range first.Jobs {
			if strings.Contains(w.Body.String(), a.JobID) {
				t.Errorf("the 422 shows the first batch's job %s: %s", a.JobID, w.Body)
			}
		}
	}
	if n := b.count(t, `SELECT count(*) FROM jobs`); n != 2 {
		t.Errorf("jobs stored = %d, want the first batch's 2", n)
	}
	if n := b.count(t, `SELECT count(*) FROM outbox`) + int(kafkatest.Count(t, b.brokers, envelope.TopicJobCreated)); n != 2 {
		t.Errorf("job-created events = %d, want 2", n)
	}
}

// TestBatchKeyConcurrent sends one keyed batch from many goroutines at
// once: one stores it, every other answers its job IDs.
func TestBatchKeyConcurrent(t *testing.T) {
	b := setup(t, Config{})
	const n = 8
	answers := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := b.do(http.MethodPost, "/api/jobs/batch", batchBody(4, -1), "Content-Type", "application/json", "Idempotency-Key", "race")
			answers[i] = fmt.Sprintf("%d %s", w.Code, w.Body)
		}()
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if answers[i] != answers[0] || !strings.HasPrefix(answers[0], "202 ") {
			t.Fatalf("answers differ:\n%s\n%s", answers[0], answers[i])
		}
	}
	if c := b.count(t, `SELECT count(*) FROM jobs`); c != 4 {
		t.Errorf("jobs stored = %d", c)
	}
}

// TestBodiesHoldOneJSONValue: data after the JSON document is a 400 on
// every route that takes a body, and nothing is stored.
func TestBodiesHoldOneJSONValue(t *testing.T) {
	b := setup(t, Config{})
	batch := batchBody(2, -1)
	for _, c := range []struct{ path, body string }{
		{"/api/jobs/batch", batch + "}"},
		{"/api/jobs/batch", batch + " " + batch},
		{"/api/jobs/batch", batch + "x"},
		{"/api/jobs/batch", batch + "\n{}"},
		{"/api/jobs/batch", batch + "]"},
		{"/api/jobs/batch", `{} {}`},
		{"/api/jobs", sampleJob + "}"},
		{"/api/jobs", sampleJob + " {}"},
		{"/api/jobs", sampleJob + "x"},
	} {
		w := b.do(http.MethodPost, c.path, c.body, "Content-Type", "application/json")
		e := wantError(t, w, http.StatusBadRequest, "API.INVALID_REQUEST")
		if !strings.Contains(e.Message, "exactly one JSON") {
			t.Errorf("%s %q: message %q", c.path, c.body, e.Message)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM jobs`); n != 0 {
		t.Errorf("jobs stored = %d", n)
	}
	// Whitespace after the value is fine.
	b.postBatch(t, batch+" \n\t\r ")
	accepted(t, b.post(sampleJob+"\n\n"))
}
