package outbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/worker"
)

const jobID = "7b0c0c5e-4d0f-4e0f-9a47-0c9f4f1f2e3d"

// event is a job-completed (or other type) event whose payload is about
// size bytes.
func event(t *testing.T, typ string, size int) envelope.Envelope {
	t.Helper()
	// Random text: the producer compresses batches, and a repeated
	// character would shrink to nothing.
	b := make([]byte, size/2+1)
	rand.Read(b)
	text := hex.EncodeToString(b)[:size]
	var p any = envelope.AttemptResult{Attempt: 1, Error: text}
	if typ == envelope.TypeJobDeadLetter {
		p = envelope.JobDeadLetter{Reason: "RETRIES_EXHAUSTED", LastError: text, Attempts: []envelope.AttemptSummary{}}
	}
	e, err := envelope.New(typ, "trace-1", jobID, p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func add(ctx context.Context, t *testing.T, r *outbox.Relay, envs ...envelope.Envelope) {
	t.Helper()
	tx, err := r.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := outbox.Add(ctx, tx, envs...); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// A row the broker refuses for good (here MESSAGE_TOO_LARGE, from a broker
// whose message.max.bytes is 4,000, and one over kafka.MaxEventBytes that
// the relay does not even send) is parked, with a dead letter saying so,
// and the rows around it go out in the same pass.
func TestDrainParksPermanentFailuresAndPublishesTheRest(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t, worker.Migrations())
	brokers := kafkatest.Cluster(t, kfake.BrokerConfigs(map[string]string{"message.max.bytes": "4000"}))
	relay := &outbox.Relay{Pool: pool, Producer: kafkatest.Producer(t, brokers), Service: "worker"}

	small := []envelope.Envelope{event(t, envelope.TypeJobCompleted, 10), event(t, envelope.TypeJobCompleted, 10)}
	tooBig := event(t, envelope.TypeJobCompleted, 10_000)              // the broker refuses it
	overLimit := event(t, envelope.TypeJobFailed, kafka.MaxEventBytes) // the relay refuses it
	deadTooBig := event(t, envelope.TypeJobDeadLetter, 10_000)         // parked, no dead letter of its own
	add(ctx, t, relay, small[0], tooBig, overLimit, deadTooBig, small[1])

	n, err := relay.Drain(ctx)
	if err != nil {
		t.Fatalf("Drain: %v", err)
	}
	// The two small ones, then the two OUTBOX_PARKED dead letters.
	if n != 4 {
		t.Errorf("Drain published %d; want 4", n)
	}
	if left, _, _ := outbox.Backlog(ctx, pool); left != 0 {
		t.Errorf("outbox rows left: %d; want 0", left)
	}
	if p, err := outbox.Parked(ctx, pool); err != nil || p != 3 {
		t.Errorf("parked = %d, %v; want 3", p, err)
	}
	got := kafkatest.ReadAll(t, brokers, envelope.TopicJobCompleted, 2, 10*time.Second)
	if len(got) != 2 {
		t.Fatalf("job-completed records: %d; want 2", len(got))
	}
	for _, r := range got {
		if e, _ := envelope.Decode(r.Value); e.EventID != small[0].EventID && e.EventID != small[1].EventID {
			t.Errorf("unexpected record %s on job-completed", e.EventID)
		}
	}
	dls := kafkatest.ReadAll(t, brokers, envelope.TopicJobDeadLetter, 2, 10*time.Second)
	if len(dls) != 2 {
		t.Fatalf("dead letters: %d; want 2 (none for the parked dead letter)", len(dls))
	}
	refs := map[string]envelope.ParkedRow{}
	for _, r := range dls {
		e, err := envelope.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		var dl envelope.JobDeadLetter
		if err := e.DecodePayload(&dl); err != nil {
			t.Fatal(err)
		}
		if dl.Reason != outbox.ReasonParked || dl.Parked == nil || e.JobID != jobID {
			t.Fatalf("dead letter = %+v (job %s)", dl, e.JobID)
		}
		if len(r.Value) > 2000 {
			t.Errorf("parked dead letter is %d bytes; want a small one", len(r.Value))
		}
		refs[dl.Parked.EventID] = *dl.Parked
	}
	if p := refs[tooBig.EventID]; p.Topic != envelope.TopicJobCompleted || !strings.Contains(p.Error, "MESSAGE_TOO_LARGE") || p.Service != "worker" {
		t.Errorf("parked ref for the too-big row = %+v", p)
	}
	if p := refs[overLimit.EventID]; p.Bytes <= kafka.MaxEventBytes || !strings.Contains(p.Error, "too large") {
		t.Errorf("parked ref for the over-limit row = %+v", p)
	}
	for eventID, ref := range refs {
		var value []byte
		if err := pool.QueryRow(ctx, `SELECT value FROM outbox_parked WHERE id = $1`, ref.ParkedID).Scan(&value); err != nil {
			t.Fatal(err)
		}
		if e, _ := envelope.Decode(value); e.EventID != eventID || len(value) != ref.Bytes {
			t.Errorf("parked row %d holds %s (%d bytes); the dead letter says %s (%d bytes)", ref.ParkedID, e.EventID, len(value), eventID, ref.Bytes)
		}
	}
	var value []byte
	if err := pool.QueryRow(ctx, `SELECT value FROM outbox_parked WHERE topic = $1`, envelope.TopicJobDeadLetter).Scan(&value); err != nil {
		t.Fatal(err)
	}
	if e, _ := envelope.Decode(value); e.EventID != deadTooBig.EventID {
		t.Errorf("parked dead letter kept %s; want %s", e.EventID, deadTooBig.EventID)
	}
}

// A transient failure (one that is not about the record itself) leaves
// the row in the outbox for the next pass and parks nothing.
func TestDrainKeepsTransientFailuresForTheNextPass(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t, worker.Migrations())
	var opts []kfake.Opt
	for _, tp := range kafka.Topics {
		opts = append(opts, kfake.SeedTopics(tp.Partitions, tp.Name))
	}
	c, err := kfake.NewCluster(append(opts, kfake.NumBrokers(1))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var refuse atomic.Bool
	refuse.Store(true)
	var refused atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		if !refuse.Load() {
			return nil, nil, false
		}
		refused.Add(1)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, tp := range req.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = tp.Topic, tp.TopicID
			for _, p := range tp.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	brokers := c.ListenAddrs()
	relay := &outbox.Relay{Pool: pool, Producer: kafkatest.Producer(t, brokers), Service: "worker"}
	failed := event(t, envelope.TypeJobFailed, 10)
	add(ctx, t, relay, failed)

	n, err := relay.Drain(ctx)
	if err == nil || !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("Drain = %d, %v; want TOPIC_AUTHORIZATION_FAILED (refused %d)", n, err, refused.Load())
	}
	if refused.Load() == 0 {
		t.Fatal("the broker was never asked")
	}
	if left, _, _ := outbox.Backlog(ctx, pool); left != 1 {
		t.Errorf("outbox rows left: %d; want 1", left)
	}
	if p, _ := outbox.Parked(ctx, pool); p != 0 {
		t.Errorf("parked = %d; want 0", p)
	}
	refuse.Store(false)
	if n, err := relay.Drain(ctx); err != nil || n != 1 {
		t.Fatalf("second Drain = %d, %v; want 1", n, err)
	}
	if got := kafkatest.ReadAll(t, brokers, envelope.TopicJobFailed, 1, 10*time.Second); len(got) != 1 {
		t.Fatalf("job-failed records: %d; want 1", len(got))
	}
}
