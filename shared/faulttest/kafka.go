package faulttest

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// ReadTopic returns every record of topic up to its current end.
func ReadTopic(tb testing.TB, brokers []string, topic string) []*kgo.Record {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		tb.Fatal(err)
	}
	total := 0
	ends.Each(func(o kadm.ListedOffset) { total += int(o.Offset) })
	recs := kafkatest.ReadAll(tb, brokers, topic, total, time.Minute)
	if len(recs) < total {
		tb.Fatalf("read %d of the %d records of %s", len(recs), total, topic)
	}
	return recs
}

// Header returns a record header's value.
func Header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Redeliverer delivers every record of every lifecycle topic again,
// copies times more, out of order: it reads each record as it is
// produced and, in small shuffled rounds, produces copies of it to its
// partition, as a relay that publishes a row twice, or a batch retried
// after a partial success, would. Redelivered copies are not copied again.
type Redeliverer struct {
	Produced atomic.Int64 // copies produced

	copies int
	cancel context.CancelFunc
	wg     sync.WaitGroup
	err    atomic.Value
}

// copyHeader marks the records a Redeliverer produced.
const copyHeader = "faulttest-copy"

// Redeliver starts a Redeliverer on brokers; Stop ends it.
func Redeliver(tb testing.TB, brokers []string, copies int, seed uint64) *Redeliverer {
	tb.Helper()
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(kafka.TopicNames()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(20*time.Millisecond))
	if err != nil {
		tb.Fatal(err)
	}
	prod := ManualProducer(tb, brokers)
	ctx, cancel := context.WithCancel(context.Background())
	r := &Redeliverer{cancel: cancel, copies: copies}
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer cons.Close()
		for ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			var batch []*kgo.Record
			fs.EachRecord(func(rec *kgo.Record) {
				if Header(rec, copyHeader) != "" {
					return
				}
				for range copies {
					c := &kgo.Record{Topic: rec.Topic, Partition: rec.Partition, Key: rec.Key, Value: rec.Value,
						Headers: append(append([]kgo.RecordHeader(nil), rec.Headers...), kgo.RecordHeader{Key: copyHeader, Value: []byte("1")})}
					batch = append(batch, c)
				}
			})
			rnd.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
			for _, c := range batch {
				pctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := prod.ProduceSync(pctx, c).FirstErr()
				cancel()
				if err != nil {
					r.err.Store(err)
					return
				}
				r.Produced.Add(1)
			}
		}
	}()
	return r
}

// Stop ends the Redeliverer once it has caught up with every record
// produced so far, and fails the test if a produce failed.
func (r *Redeliverer) Stop(tb testing.TB, brokers []string) {
	tb.Helper()
	// Caught up: every original record has its copies, that is
	// records = originals + copies with copies = r.copies × originals.
	testwait.Eventually(tb, Bound, "the redeliverer catches up", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		total, err := kafkatest.EndOffsets(ctx, brokers, kafka.TopicNames()...)
		cancel()
		produced := r.Produced.Load()
		return err == nil && produced == int64(r.copies)*(total-produced)
	})
	r.cancel()
	r.wg.Wait()
	if err, _ := r.err.Load().(error); err != nil {
		tb.Fatalf("redeliver: %v", err)
	}
}

// ManualProducer returns a producer that writes each record to the
// partition it names, closed when the test ends.
func ManualProducer(tb testing.TB, brokers []string) *kgo.Client {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return cl
}
