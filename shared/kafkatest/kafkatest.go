// Package kafkatest starts an in-process Kafka-protocol broker (franz-go's
// kfake) with the lifecycle topics for a test, and reads back what was
// produced and counts it.
package kafkatest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/kafka"
)

// Cluster starts a broker with the lifecycle topics and returns its seed
// addresses; it stops when the test ends.
func Cluster(tb testing.TB, opts ...kfake.Opt) []string {
	tb.Helper()
	base := []kfake.Opt{kfake.NumBrokers(1)}
	for _, t := range kafka.Topics {
		base = append(base, kfake.SeedTopics(t.Partitions, t.Name))
	}
	c, err := kfake.NewCluster(append(base, opts...)...)
	if err != nil {
		tb.Fatalf("kafkatest: start kfake: %v", err)
	}
	tb.Cleanup(c.Close)
	return c.ListenAddrs()
}

// Producer returns a platform producer for brokers, closed at test end.
func Producer(tb testing.TB, brokers []string) *kgo.Client {
	tb.Helper()
	cl, err := kafka.NewProducer(kafka.Config{Brokers: brokers, ClientID: tb.Name()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return cl
}

// ReadAll consumes topic from the start until it has seen want records or
// the timeout passes, and returns what it saw.
func ReadAll(tb testing.TB, brokers []string, topic string, want int, timeout time.Duration) []*kgo.Record {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// EndOffsets returns how many records the topics hold: the sum of their
// partitions' end offsets (every acknowledged produce counts). A
// partition's error is an error.
func EndOffsets(ctx context.Context, brokers []string, topics ...string) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topics...)
	if err != nil {
		return 0, err
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && err == nil {
			err = fmt.Errorf("end offset of %s/%d: %w", o.Topic, o.Partition, o.Err)
		}
		n += o.Offset
	})
	return n, err
}

// Count is EndOffsets for a test: it fails the test on an error, and
// gives up after 10 seconds.
func Count(tb testing.TB, brokers []string, topics ...string) int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := EndOffsets(ctx, brokers, topics...)
	if err != nil {
		tb.Fatalf("kafkatest: count the records of %v: %v", topics, err)
	}
	return n
}

// ReadTopic returns every record of topic up to its current end (Count),
// failing the test if it cannot read them all within timeout.
func ReadTopic(tb testing.TB, brokers []string, topic string, timeout time.Duration) []*kgo.Record {
	tb.Helper()
	total := int(Count(tb, brokers, topic))
	recs := ReadAll(tb, brokers, topic, total, timeout)
	if len(recs) < total {
		tb.Fatalf("kafkatest: read %d of the %d records of %s", len(recs), total, topic)
	}
	return recs
}
