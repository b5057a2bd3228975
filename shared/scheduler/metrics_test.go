package scheduler

import (
	"bytes"
	"encoding/base64"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/metrics/metricstest"
)

var (
	schedSvc = []string{"Service", "scheduler"}
	schedSim = []string{"Service", "scheduler", "JobType", "SIMULATION"}
)

// withMetrics makes the service write its metrics to out.
func withMetrics(out *bytes.Buffer) func(*Config) {
	return func(c *Config) { c.Metrics = metrics.New(out, "scheduler") }
}

func wantSum(t *testing.T, r *metricstest.Result, out *bytes.Buffer, name string, dims []string, want float64) {
	t.Helper()
	if r.Get(name, dims...) == nil {
		t.Fatalf("%s %v not published; output:\n%s", name, dims, out)
	}
	if got := r.Sum(name, dims...); got != want {
		t.Fatalf("%s %v = %v, want %v; output:\n%s", name, dims, got, want, out)
	}
}

func TestHandleKafkaEmitsMetrics(t *testing.T) {
	var out bytes.Buffer
	b := setup(t, withMetrics(&out))
	retried := newJobCreated(t, jobOpts{MaxRetries: 1})
	completed := newJobCreated(t, jobOpts{MaxRetries: 0})
	dead := newJobCreated(t, jobOpts{MaxRetries: 0})
	ev := kafkaEvent(retried, completed, dead)
	ev.Records["job-created-9"] = []events.KafkaRecord{
		{Topic: envelope.TopicJobCreated, Partition: 9, Offset: 1, Value: base64.StdEncoding.EncodeToString([]byte("{not json"))},
	}
	if err := b.svc.HandleKafka(b.ctx, ev); err != nil {
		t.Fatal(err)
	}

	r := metricstest.Parse(t, out.Bytes())
	wantSum(t, r, &out, "BatchSize", schedSvc, 4)
	wantSum(t, r, &out, "PoisonRecords", schedSvc, 1)
	wantSum(t, r, &out, "JobsDispatched", schedSim, 3)
	wantSum(t, r, &out, "JobsDispatched", schedSvc, 3)
	wantSum(t, r, &out, "DueBacklog", schedSvc, 0)
	wantSum(t, r, &out, "OldestDueAgeSeconds", schedSvc, 0)
	wantSum(t, r, &out, "OutboxBacklog", schedSvc, 0)
	for _, name := range []string{"DispatchLatency", "FreshJobWait"} {
		s := r.Get(name, schedSim...)
		if s == nil || len(s.Values) != 3 || s.Unit != "Milliseconds" || slices.Min(s.Values) < 0 {
			t.Fatalf("%s = %+v", name, s)
		}
	}

	// Results: a failure with a retry left, a success, a failure without.
	out.Reset()
	results := kafkaEvent(
		newResult(t, retried.JobID, 1, "boom", false),
		newResult(t, completed.JobID, 1, "", false),
		newResult(t, dead.JobID, 1, "boom", false),
	)
	if err := b.svc.HandleKafka(b.ctx, results); err != nil {
		t.Fatal(err)
	}
	r = metricstest.Parse(t, out.Bytes())
	wantSum(t, r, &out, "BatchSize", schedSvc, 3)
	wantSum(t, r, &out, "PoisonRecords", schedSvc, 0)
	wantSum(t, r, &out, "JobsFailed", schedSim, 2)
	wantSum(t, r, &out, "JobsRetried", schedSim, 1)
	wantSum(t, r, &out, "JobsDeadLettered", schedSim, 1)
	wantSum(t, r, &out, "JobsCompleted", schedSim, 1)
	wantSum(t, r, &out, "JobsCompleted", schedSvc, 1)

	// A redelivery applies nothing, so counts nothing.
	out.Reset()
	if err := b.svc.HandleKafka(b.ctx, results); err != nil {
		t.Fatal(err)
	}
	r = metricstest.Parse(t, out.Bytes())
	for _, name := range []string{"JobsFailed", "JobsRetried", "JobsDeadLettered", "JobsCompleted"} {
		if s := r.Get(name, schedSvc...); s != nil {
			t.Fatalf("a redelivery counted %s %v", name, s.Values)
		}
	}
}

func TestLeaseExpiryCountsAsFailure(t *testing.T) {
	var out bytes.Buffer
	b := setup(t, withMetrics(&out))
	created := newJobCreated(t, jobOpts{MaxRetries: 0})
	b.consume(t, b.svc, created)
	b.expire(t, created.JobID)
	out.Reset()
	if _, err := b.svc.Tick(b.ctx); err != nil { // no deadline: one pass, then a flush
		t.Fatal(err)
	}
	r := metricstest.Parse(t, out.Bytes())
	wantSum(t, r, &out, "JobsFailed", schedSim, 1)
	wantSum(t, r, &out, "JobsDeadLettered", schedSim, 1)
	wantSum(t, r, &out, "OutboxBacklog", schedSvc, 0)
}

func TestDueBacklogIsMeasuredPastTheBatch(t *testing.T) {
	var out bytes.Buffer
	b := setup(t, withMetrics(&out)) // BatchSize 100
	b.insertDueJobs(t, 250, 0)       // due a minute ago
	if _, err := b.svc.Tick(b.ctx); err != nil {
		t.Fatal(err)
	}
	r := metricstest.Parse(t, out.Bytes())
	wantSum(t, r, &out, "JobsDispatched", schedSim, 100)
	wantSum(t, r, &out, "DueBacklog", schedSvc, 150)
	if age, ok := r.Max("OldestDueAgeSeconds", schedSvc...); !ok || age < 59 || age > 300 {
		t.Fatalf("OldestDueAgeSeconds = %v (published %v)", age, ok)
	}
	if lat := r.Values("DispatchLatency", schedSim...); len(lat) != 100 || slices.Min(lat) < 59_000 {
		t.Fatalf("DispatchLatency = %v ms, want 100 values of a minute or more", lat)
	}
	if s := r.Get("DueBacklog", schedSvc...); s.Unit != "Count" || r.Get("OldestDueAgeSeconds", schedSvc...).Unit != "Seconds" {
		t.Fatalf("units: %+v", s)
	}
}
