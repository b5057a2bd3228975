package dlq_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"

	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/metrics/metricstest"
)

func TestHandleKafkaEmitsMetrics(t *testing.T) {
	var out bytes.Buffer
	svc, _ := setup(t, dlq.Config{Metrics: metrics.New(&out, "dlq")})
	ev := batch(0, deadLetter(t, "RETRIES_EXHAUSTED"), deadLetter(t, "PERMANENT_FAILURE"),
		deadLetter(t, "RETRIES_EXHAUSTED", func(dl *envelope.JobDeadLetter) { dl.JobType = "BATCH" }),
		deadLetter(t, "PERMANENT_FAILURE")) // offsets 0..3
	ev.Records["job-dead-letter-1"][3].Value = base64.StdEncoding.EncodeToString([]byte("{not json"))
	if err := svc.HandleKafka(context.Background(), ev); err != nil {
		t.Fatal(err)
	}

	r := metricstest.Parse(t, out.Bytes())
	for _, c := range []struct {
		name string
		dims []string
		want float64
	}{
		{"DeadLettersStored", []string{"Service", "dlq", "JobType", "SIMULATION"}, 2},
		{"DeadLettersStored", []string{"Service", "dlq", "JobType", "BATCH"}, 1},
		{"DeadLettersStored", []string{"Service", "dlq"}, 4}, // the poison entry has no job type
		{"PoisonRecords", []string{"Service", "dlq"}, 1},
		{"BatchSize", []string{"Service", "dlq"}, 4},
	} {
		if s := r.Get(c.name, c.dims...); s == nil || s.Unit != "Count" {
			t.Fatalf("%s %v = %+v; output:\n%s", c.name, c.dims, s, out.String())
		}
		if got := r.Sum(c.name, c.dims...); got != c.want {
			t.Fatalf("%s %v = %v, want %v; output:\n%s", c.name, c.dims, got, c.want, out.String())
		}
	}

	// A redelivery stores nothing new.
	out.Reset()
	if err := svc.HandleKafka(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	r = metricstest.Parse(t, out.Bytes())
	if s := r.Get("DeadLettersStored", "Service", "dlq"); s != nil {
		t.Fatalf("a redelivery stored %v", s.Values)
	}
}
