package outbox_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/testwait"
	"github.com/jobweaver/jobweaver/shared/tracing"
	"github.com/jobweaver/jobweaver/shared/worker"
)

func TestAddThenDrainPublishesOnceAndEmptiesTable(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t, worker.Migrations())
	brokers := kafkatest.Cluster(t)
	relay := &outbox.Relay{Pool: pool, Producer: kafkatest.Producer(t, brokers), Batch: 3}

	var envs []envelope.Envelope
	for i := 0; i < 7; i++ {
		e, err := envelope.New(envelope.TypeJobCompleted, "trace-1", "7b0c0c5e-4d0f-4e0f-9a47-0c9f4f1f2e3d", envelope.AttemptResult{Attempt: i})
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, e)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := outbox.Add(ctx, tx, envs[:1]...); err != nil {
		t.Fatal(err)
	}
	if err := outbox.Add(ctx, tx, envs[1:]...); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _, err := outbox.Backlog(ctx, pool); err != nil || n != 7 {
		t.Fatalf("backlog = %d, %v; want 7", n, err)
	}
	n, err := relay.Drain(ctx)
	if err != nil || n != 7 {
		t.Fatalf("Drain = %d, %v; want 7", n, err)
	}
	if n, _, _ := outbox.Backlog(ctx, pool); n != 0 {
		t.Fatalf("backlog after drain = %d", n)
	}
	recs := kafkatest.ReadAll(t, brokers, envelope.TopicJobCompleted, 7, 10*time.Second)
	if len(recs) != 7 {
		t.Fatalf("got %d records, want 7", len(recs))
	}
	seen := map[string]bool{}
	for _, r := range recs {
		e, err := envelope.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		seen[e.EventID] = true
		if string(r.Key) != e.JobID {
			t.Errorf("key %q != jobId %q", r.Key, e.JobID)
		}
		var hdr = map[string]string{}
		for _, h := range r.Headers {
			hdr[h.Key] = string(h.Value)
		}
		if hdr["traceId"] != "trace-1" || hdr["eventId"] != e.EventID {
			t.Errorf("headers = %v", hdr)
		}
	}
	if len(seen) != 7 {
		t.Fatalf("distinct events = %d", len(seen))
	}
	if n, err := relay.Drain(ctx); err != nil || n != 0 {
		t.Fatalf("second Drain = %d, %v; want 0", n, err)
	}
}

// A relay that gets no more calls after a Publish still deletes the rows
// it sent: an idle api leaves no published row behind.
func TestPublishedRowsAreDeletedWithoutAnotherCall(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t, worker.Migrations())
	brokers := kafkatest.Cluster(t)
	relay := &outbox.Relay{Pool: pool, Producer: kafkatest.Producer(t, brokers)}

	e, err := envelope.New(envelope.TypeJobCompleted, "trace-1", "7b0c0c5e-4d0f-4e0f-9a47-0c9f4f1f2e3d", envelope.AttemptResult{Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	r := outbox.Row(e)
	if err := pool.QueryRow(ctx, `INSERT INTO outbox (topic, key, value, headers) VALUES ($1, $2, $3, $4) RETURNING id`,
		r.Topic, r.Key, r.Value, r.Headers).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if err := relay.Publish(ctx, []int64{id}, e); err != nil {
		t.Fatal(err)
	}
	if n := len(kafkatest.ReadAll(t, brokers, envelope.TopicJobCompleted, 1, 10*time.Second)); n != 1 {
		t.Fatalf("%d records published; want 1", n)
	}
	testwait.Eventually(t, 10*time.Second, "the published rows leave the outbox with no further call", func() bool {
		n, _, err := outbox.Backlog(ctx, pool)
		if err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
}

// Insert returns each envelope's row ID in the order given, so that
// Publish deletes exactly the rows it sent.
func TestInsertReturnsTheRowsIDsInOrder(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t, worker.Migrations())
	tests := []struct {
		name string
		n    int
	}{
		{"none", 0},
		{"one", 1},
		{"many", 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var envs []envelope.Envelope
			for i := 0; i < tt.n; i++ {
				typ := envelope.TypeJobCompleted
				if i%3 == 1 {
					typ = envelope.TypeJobFailed // another topic in between
				}
				e, err := envelope.New(typ, "trace-insert", "7b0c0c5e-4d0f-4e0f-9a47-0c9f4f1f2e3d", envelope.AttemptResult{Attempt: i + 1})
				if err != nil {
					t.Fatal(err)
				}
				envs = append(envs, e)
			}
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			ids, err := outbox.Insert(ctx, tx, envs...)
			if err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if len(ids) != tt.n {
				t.Fatalf("%d IDs for %d envelopes", len(ids), tt.n)
			}
			for i, id := range ids {
				var topic string
				var value []byte
				if err := pool.QueryRow(ctx, `SELECT topic, value FROM outbox WHERE id = $1`, id).Scan(&topic, &value); err != nil {
					t.Fatalf("row %d (id %d): %v", i, id, err)
				}
				got, err := envelope.Decode(value)
				if err != nil {
					t.Fatal(err)
				}
				if want := outbox.Row(envs[i]); topic != want.Topic || got.EventID != envs[i].EventID {
					t.Fatalf("row %d (id %d) holds %s %s, want %s %s", i, id, topic, got.EventID, want.Topic, envs[i].EventID)
				}
			}
		})
	}
}

// DrainRows publishes exactly the rows named, and leaves a row that
// another relay has claimed (locked) to that relay, so that no row goes
// out twice.
func TestDrainRowsPublishesOnlyTheRowsNamedAndSkipsClaimedOnes(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t, worker.Migrations())
	brokers := kafkatest.Cluster(t)
	relay := &outbox.Relay{Pool: pool, Producer: kafkatest.Producer(t, brokers)}

	var envs []envelope.Envelope
	for i := 0; i < 5; i++ {
		e, err := envelope.New(envelope.TypeJobCompleted, "trace-rows", "7b0c0c5e-4d0f-4e0f-9a47-0c9f4f1f2e3d", envelope.AttemptResult{Attempt: i + 1})
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, e)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := outbox.Insert(ctx, tx, envs...)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	// Another relay has claimed row 2 and not committed yet.
	other, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx)
	if _, err := other.Exec(ctx, `SELECT 1 FROM outbox WHERE id = $1 FOR UPDATE`, ids[2]); err != nil {
		t.Fatal(err)
	}

	n, err := relay.DrainRows(ctx, ids[:3])
	if err != nil || n != 2 {
		t.Fatalf("DrainRows = %d, %v; want 2 (rows 0 and 1; row 2 is another relay's)", n, err)
	}
	var left []int64
	rows, err := pool.Query(ctx, `SELECT id FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		left = append(left, id)
	}
	if want := []int64{ids[2], ids[3], ids[4]}; fmt.Sprint(left) != fmt.Sprint(want) {
		t.Fatalf("rows left %v, want %v", left, want)
	}
	recs := kafkatest.ReadAll(t, brokers, envelope.TopicJobCompleted, 2, 10*time.Second)
	got := map[string]bool{}
	for _, r := range recs {
		e, err := envelope.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		got[e.EventID] = true
	}
	if len(recs) != 2 || !got[envs[0].EventID] || !got[envs[1].EventID] {
		t.Fatalf("published %d records %v, want rows 0 and 1", len(recs), got)
	}
	if n, err := relay.DrainRows(ctx, nil); n != 0 || err != nil {
		t.Fatalf("DrainRows(nil) = %d, %v", n, err)
	}
}

// An envelope Insert stores without a traceparent gets the one its row
// holds (ctx's span, in the envelope's trace), so the record Publish sends
// and the row agree.
func TestInsertGivesTheEnvelopeItsRowsTraceParent(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t, worker.Migrations())
	sc := oteltrace.NewSpanContext(oteltrace.SpanContextConfig{
		TraceID: tracing.IDOf("trace-tp"), SpanID: oteltrace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: oteltrace.FlagsSampled,
	})
	sctx := oteltrace.ContextWithSpanContext(ctx, sc)
	e, err := envelope.New(envelope.TypeJobCompleted, "trace-tp", "7b0c0c5e-4d0f-4e0f-9a47-0c9f4f1f2e3d", envelope.AttemptResult{Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	envs := []envelope.Envelope{e}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	ids, err := outbox.Insert(sctx, tx, envs...)
	if err != nil {
		t.Fatal(err)
	}
	want := tracing.TraceParent(sctx)
	if want == "" || envs[0].TraceParent != want {
		t.Fatalf("envelope traceparent %q, want %q", envs[0].TraceParent, want)
	}
	var stored string
	if err := tx.QueryRow(ctx, `SELECT headers->>$2 FROM outbox WHERE id = $1`, ids[0], tracing.HeaderTraceParent).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != want {
		t.Fatalf("row traceparent %q, want %q", stored, want)
	}
}
