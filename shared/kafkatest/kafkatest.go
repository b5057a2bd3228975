// Package kafkatest starts an in-process Kafka-protocol broker (franz-go's
// kfake) with the lifecycle topics for a test, and reads back what was
// produced.
package kafkatest

import (
	"context"
	"testing"
	"time"

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
