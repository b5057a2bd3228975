package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/stacktest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// A record nobody can decode ends in the DLQ once, and the partition keeps
// flowing behind it.
func TestPoisonRecordsEndInDeadLetterQueue(t *testing.T) {
	s := startStack(t, nil)
	prod := kafkatest.Producer(t, s.Brokers)
	for _, topic := range []string{envelope.TopicJobCreated, envelope.TopicRunJob, envelope.TopicJobCompleted, envelope.TopicJobFailed} {
		for p := int32(0); p < 6; p++ {
			r := &kgo.Record{Topic: topic, Partition: p, Value: []byte(`{"this is":"not an envelope"`)}
			if err := prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: envelope.TopicJobDeadLetter, Value: []byte{0xff, 0x00}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Every partition still delivers.
	var ids []string
	for i := 0; i < 12; i++ {
		ids = append(ids, s.Submit(t, stacktest.JobJSON(`{"action":"LOG","message":"behind poison"}`, 0)))
	}
	for _, id := range ids {
		s.WaitStatus(t, id, "COMPLETED")
	}
	testwait.Eventually(t, stacktest.Bound, "25 poison entries in the DLQ", func() bool {
		return s.Count(t, "dlq", `SELECT count(*) FROM dead_letters WHERE reason = 'POISON_RECORD'`) == 25
	})
	dl := s.Do(t, http.MethodGet, "/api/dlq?size=100", "").JSON(t)
	if dl["totalElements"] != float64(25) {
		t.Errorf("GET /api/dlq totalElements = %v", dl["totalElements"])
	}
}
