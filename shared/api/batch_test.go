package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
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

func TestBatchIdempotencyKey(t *testing.T) {
	b := setup(t, Config{})
	post := func() BatchAccepted {
		w := b.do(http.MethodPost, "/api/jobs/batch", batchBody(3, -1), "Content-Type", "application/json", "Idempotency-Key", "batch-1")
		if w.Code != http.StatusAccepted {
			t.Fatalf("batch = %d %s", w.Code, w.Body)
		}
		var out BatchAccepted
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	first, again := post(), post()
	for i := range first.Jobs {
		if first.Jobs[i] != again.Jobs[i] {
			t.Errorf("job %d: %+v then %+v", i, first.Jobs[i], again.Jobs[i])
		}
	}
	if n := b.count(t, `SELECT count(*) FROM jobs`); n != 3 {
		t.Errorf("jobs stored = %d", n)
	}
}
