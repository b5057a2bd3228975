package scheduler

import (
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
)

// BenchmarkJobLifecycle measures the scheduler's share of a job's life on
// a real Postgres and the in-process broker: ingest a batch of job-created
// events (which dispatches them and relays the run-jobs), then apply a
// batch of their completions, 100 jobs at a time as the event-source
// mapping delivers them. It reports jobs/s.
//
//	go test ./shared/scheduler -run '^$' -bench JobLifecycle -benchtime 50x
func BenchmarkJobLifecycle(b *testing.B) {
	const batch = 100
	tb := setup(b, nil)
	created := make([][]envelope.Envelope, b.N)
	done := make([][]envelope.Envelope, b.N)
	for i := range b.N {
		for range batch {
			c := newJobCreated(b, jobOpts{})
			created[i] = append(created[i], c)
			done[i] = append(done[i], newResult(b, c.JobID, 1, "", false))
		}
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		tb.consume(b, tb.svc, created[i]...)
		tb.consume(b, tb.svc, done[i]...)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if n := tb.count(b, `SELECT count(*) FROM jobs WHERE status = 'COMPLETED'`); n != b.N*batch {
		b.Fatalf("completed %d of %d", n, b.N*batch)
	}
	b.ReportMetric(float64(b.N*batch)/elapsed.Seconds(), "jobs/s")
}
