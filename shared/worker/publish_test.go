package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/testwait"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// An invocation publishes the results it committed by their outbox rows'
// IDs and does not drain the table: a young row it did not write (another
// invocation's, mid-publish) is left alone. A redelivered batch, whose
// earlier delivery may have committed results it never sent, drains it.
func TestResultsArePublishedByIDAndRedeliveriesDrain(t *testing.T) {
	b := setup(t, worker.Config{})
	ctx := context.Background()

	other, err := envelope.New(envelope.TypeJobCompleted, "trace-other", uuid.NewString(), envelope.AttemptResult{Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := outbox.Add(ctx, tx, other); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	run := runJob(t, 1, `{"action":"COUNT","key":"job"}`)
	if err := b.svc.HandleKafka(ctx, batch(run)); err != nil {
		t.Fatal(err)
	}
	envs, _ := read(t, b.brokers, envelope.TopicJobCompleted, 1)
	if envs[0].JobID != run.JobID {
		t.Fatalf("published %+v, want the result of job %s", envs[0], run.JobID)
	}
	testwait.Eventually(t, 10*time.Second, "the published result's row is deleted", func() bool {
		var n int
		if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	})
	var left string
	if err := b.pool.QueryRow(ctx, `SELECT convert_from(key, 'UTF8') FROM outbox`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != other.JobID {
		t.Fatalf("the row left is job %s's, want the other row (job %s) untouched", left, other.JobID)
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobCompleted); n != 1 {
		t.Fatalf("%d job-completed records after the first delivery, want 1 (the other row is not this invocation's)", n)
	}

	// The same batch again: nothing runs twice, and the outbox is drained.
	if err := b.svc.HandleKafka(ctx, batch(run)); err != nil {
		t.Fatal(err)
	}
	if n := b.probe.count("job"); n != 1 {
		t.Fatalf("steps ran %d times, want 1", n)
	}
	if n, _, _ := outbox.Backlog(ctx, b.pool); n != 0 {
		t.Fatalf("outbox backlog after the redelivery = %d, want 0", n)
	}
	got := map[string]bool{}
	for _, e := range kafkatest.ReadAll(t, b.brokers, envelope.TopicJobCompleted, 2, 10*time.Second) {
		d, err := envelope.Decode(e.Value)
		if err != nil {
			t.Fatal(err)
		}
		got[d.JobID] = true
	}
	if !got[other.JobID] || !got[run.JobID] {
		t.Fatalf("job-completed holds %v, want both %s and %s", got, run.JobID, other.JobID)
	}
}
