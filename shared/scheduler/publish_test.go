package scheduler

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/outbox"
)

// A Kafka invocation publishes the outbox rows it committed (the run-job
// of the job it ingested and dispatched) by their IDs, and leaves a row it
// did not write to the periodic full drain (the sweep), which a failed or
// crashed invocation's rows wait for.
func TestKafkaInvocationPublishesItsOwnRowsAndSweepsTheRest(t *testing.T) {
	b := setup(t, nil)

	other, err := envelope.New(envelope.TypeJobDeadLetter, "trace-other", uuid.NewString(), map[string]string{"why": "left by another invocation"})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := outbox.Add(b.ctx, tx, other); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}

	b.svc.lastSweep.Store(time.Now().Add(time.Hour).UnixNano()) // no sweep
	job := newJobCreated(t, jobOpts{})
	b.consume(t, b.svc, job)
	if st := b.job(t, job.JobID); st.Status != "RUNNING" {
		t.Fatalf("job %s is %s, want RUNNING", job.JobID, st.Status)
	}
	runs := b.read(t, envelope.TopicRunJob, 1)
	if runs[0].JobID != job.JobID {
		t.Fatalf("run-job for %s, want %s", runs[0].JobID, job.JobID)
	}
	if n := b.published(t, envelope.TopicJobDeadLetter); n != 0 {
		t.Fatalf("%d dead letters published without a sweep, want 0 (the row is not this invocation's)", n)
	}
	if n := b.count(t, `SELECT count(*) FROM outbox`); n != 1 {
		t.Fatalf("outbox holds %d rows, want 1 (the other row; the run-job's was deleted)", n)
	}

	b.svc.lastSweep.Store(0) // the sweep is due
	b.consume(t, b.svc)
	if n := b.published(t, envelope.TopicJobDeadLetter); n != 1 {
		t.Fatalf("%d dead letters published after the sweep, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM outbox`); n != 0 {
		t.Fatalf("outbox holds %d rows after the sweep, want 0", n)
	}
	if n := b.published(t, envelope.TopicRunJob); n != 1 {
		t.Fatalf("run-job holds %d records, want 1 (no row sent twice)", n)
	}
}
