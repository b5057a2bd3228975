package worker_test

import (
	"context"
	"io"
	"testing"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// BenchmarkHandleKafka measures LOG-only jobs end to end: decode, run,
// record, and publish the results through the outbox to Kafka.
//
//	go test -run XXX -bench HandleKafka -benchtime 20x ./shared/worker
func BenchmarkHandleKafka(b *testing.B) {
	const batchSize = 100 // the local event-source mapping's default batch size
	bd := setup(b, worker.Config{})
	// Format every log line as in production, but write it nowhere.
	bd.deps.Log = logging.New("worker", io.Discard)
	svc, err := worker.New(worker.Config{}, bd.deps)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	batches := make([][]envelope.Envelope, b.N)
	for i := range batches {
		batches[i] = make([]envelope.Envelope, batchSize)
		for j := range batches[i] {
			batches[i][j] = runJob(b, 1, `{"action":"LOG","message":"benchmark"}`)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := svc.HandleKafka(ctx, batch(batches[i]...)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "jobs/s")
}
