package worker_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"

	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/metrics/metricstest"
	"github.com/jobweaver/jobweaver/shared/worker"
)

func TestHandleKafkaEmitsMetrics(t *testing.T) {
	var out bytes.Buffer
	b := setup(t, worker.Config{Metrics: metrics.New(&out, "worker")})
	ok := `{"action":"LOG","message":"fine"}`
	ev := batch(runJob(t, 1, ok), runJob(t, 1, ok), runJob(t, 2, ok),
		runJob(t, 1, `{"action":"FAIL","message":"boom"}`), runJob(t, 1, ok))
	ev.Records["run-job-0"][4].Value = base64.StdEncoding.EncodeToString([]byte("{not an envelope"))
	if err := b.svc.HandleKafka(context.Background(), ev); err != nil {
		t.Fatal(err)
	}

	r := metricstest.Parse(t, out.Bytes())
	svc := []string{"Service", "worker"}
	sim := []string{"Service", "worker", "JobType", "SIMULATION"}
	if got := len(r.Values("ExecutionDuration", sim...)); got != 4 {
		t.Fatalf("%d ExecutionDuration values, want 4; output:\n%s", got, out.String())
	}
	if s := r.Get("ExecutionDuration", svc...); s == nil || len(s.Values) != 4 || s.Unit != "Milliseconds" {
		t.Fatalf("service-level ExecutionDuration = %+v", s)
	}
	for _, c := range []struct {
		name string
		dims []string
		want float64
	}{
		{"AttemptsSucceeded", sim, 3},
		{"AttemptsFailed", sim, 1},
		{"AttemptsSucceeded", svc, 3},
		{"PoisonRecords", svc, 1},
		{"BatchSize", svc, 5},
		{"OutboxBacklog", svc, 0}, // drained
	} {
		s := r.Get(c.name, c.dims...)
		if s == nil {
			t.Fatalf("%s %v not published; output:\n%s", c.name, c.dims, out.String())
		}
		if got := r.Sum(c.name, c.dims...); got != c.want || s.Unit != "Count" {
			t.Fatalf("%s %v = %v %s, want %v Count", c.name, c.dims, got, s.Unit, c.want)
		}
	}

	// A redelivery runs nothing again: no attempt is counted twice.
	out.Reset()
	if err := b.svc.HandleKafka(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	r = metricstest.Parse(t, out.Bytes())
	if n := r.Values("ExecutionDuration", svc...); len(n) != 0 {
		t.Fatalf("a redelivery counted %d attempts", len(n))
	}
	if got := r.Sum("BatchSize", svc...); got != 5 {
		t.Fatalf("BatchSize = %v", got)
	}
}
