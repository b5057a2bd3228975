package dlq_test

import (
	"context"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/outbox"
)

// An OUTBOX_PARKED dead letter keeps its parked row's reference, and a
// trimmed dead letter its trimmed marker; others have neither.
func TestEntriesShowParkedRowsAndTrimming(t *testing.T) {
	svc, _ := setup(t, dlq.Config{})
	ctx := context.Background()
	ref := envelope.ParkedRow{Service: "scheduler", ParkedID: 7, Topic: envelope.TopicRunJob,
		Key: "7b0c0c5e-4d0f-4e0f-9a47-0c9f4f1f2e3d", EventID: "0a1b2c3d-0000-4000-8000-000000000001",
		EventType: envelope.TypeRunJob, Bytes: 1_100_000, Error: "MESSAGE_TOO_LARGE"}
	parked := outbox.ParkedDeadLetter("scheduler", ref, "trace-p", time.Now())
	trimmed := deadLetter(t, "RETRIES_EXHAUSTED", func(dl *envelope.JobDeadLetter) {
		dl.Trimmed = &envelope.Trimmed{AttemptErrors: []int{2}, LimitBytes: 1_000_000}
	})
	plain := deadLetter(t, "RETRIES_EXHAUSTED")
	if err := svc.HandleKafka(ctx, batch(0, parked, trimmed, plain)); err != nil {
		t.Fatal(err)
	}
	e, err := svc.Get(ctx, parked.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Reason != outbox.ReasonParked || e.ErrorCode != outbox.CodeParked || e.Parked == nil || *e.Parked != ref || e.JobID != ref.Key {
		t.Fatalf("parked entry = %+v (parked %+v)", e, e.Parked)
	}
	if e, _ := svc.Get(ctx, trimmed.EventID); e.Trimmed == nil || len(e.Trimmed.AttemptErrors) != 1 || e.Parked != nil {
		t.Fatalf("trimmed entry = %+v", e)
	}
	if e, _ := svc.Get(ctx, plain.EventID); e.Trimmed != nil || e.Parked != nil {
		t.Fatalf("plain entry = %+v", e)
	}
}
