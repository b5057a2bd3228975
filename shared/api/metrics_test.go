package api

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/metrics/metricstest"
)

func TestSubmissionsEmitMetrics(t *testing.T) {
	var out bytes.Buffer
	b := setup(t, Config{Metrics: metrics.New(&out, "api")})
	sim := []string{"Service", "api", "JobType", "SIMULATION"}
	svc := []string{"Service", "api"}

	// Each request flushes its own document.
	accepted(t, b.post(sampleJob))
	r := metricstest.Parse(t, out.Bytes())
	if len(r.Docs) != 1 || r.Sum("JobsSubmitted", sim...) != 1 || r.Sum("JobsSubmitted", svc...) != 1 {
		t.Fatalf("after one submission:\n%s", out.String())
	}
	if s := r.Get("JobsSubmitted", sim...); s.Unit != "Count" {
		t.Fatalf("unit %s", s.Unit)
	}

	out.Reset()
	accepted(t, b.post(sampleJob, "Idempotency-Key", "k1"))
	accepted(t, b.post(sampleJob, "Idempotency-Key", "k1")) // a repeat submits nothing
	wantError(t, b.post(`{"jobType":"NOPE"}`, "Content-Type", "application/json"), http.StatusBadRequest, "API.INVALID_REQUEST")
	if w := b.do(http.MethodPost, "/api/jobs/batch", batchBody(7, -1), "Content-Type", "application/json"); w.Code != http.StatusAccepted {
		t.Fatalf("batch = %d %s", w.Code, w.Body)
	}
	if w := b.do(http.MethodPost, "/api/jobs/batch", batchBody(3, -1), "Content-Type", "application/json", "Idempotency-Key", "b1"); w.Code != http.StatusAccepted {
		t.Fatalf("keyed batch = %d %s", w.Code, w.Body)
	}
	if w := b.do(http.MethodPost, "/api/jobs/batch", batchBody(3, -1), "Content-Type", "application/json", "Idempotency-Key", "b1"); w.Code != http.StatusAccepted {
		t.Fatalf("repeated keyed batch = %d %s", w.Code, w.Body)
	}
	b.do(http.MethodGet, "/health", "")
	r = metricstest.Parse(t, out.Bytes())
	if got := r.Sum("JobsSubmitted", sim...); got != 1+7+3 {
		t.Fatalf("JobsSubmitted = %v, want 11; output:\n%s", got, out.String())
	}
	if got := r.Sum("JobsSubmitted", svc...); got != 11 {
		t.Fatalf("service-level JobsSubmitted = %v", got)
	}
}
