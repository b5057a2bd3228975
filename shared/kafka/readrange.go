package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadRange fetches the records of one partition from offset first to
// last, both included, with no consumer group (nothing is committed). The
// part of the range that retention has already deleted, or that was never
// written, is missing from the result: it holds the records the broker
// still has, in offset order.
func ReadRange(ctx context.Context, cfg Config, topic string, partition int32, first, last int64) ([]*kgo.Record, error) {
	if first < 0 || last < first {
		return nil, fmt.Errorf("kafka: bad offset range %d..%d", first, last)
	}
	security, err := cfg.Opts()
	if err != nil {
		return nil, err
	}
	base := append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, security...)
	if cfg.ClientID != "" {
		base = append(base, kgo.ClientID(cfg.ClientID))
	}
	admin, err := kgo.NewClient(base...)
	if err != nil {
		return nil, fmt.Errorf("kafka: new client for %v: %w", cfg.Brokers, err)
	}
	adm := kadm.NewClient(admin)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	var ends kadm.ListedOffsets
	if err == nil {
		ends, err = adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
	}
	admin.Close()
	if err != nil {
		return nil, fmt.Errorf("kafka: offsets of %s: %w", topic, err)
	}
	s, ok1 := starts.Lookup(topic, partition)
	e, ok2 := ends.Lookup(topic, partition)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("kafka: %s has no partition %d", topic, partition)
	}
	from, to := max(first, s.Offset), min(last, e.Offset-1)
	if from > to {
		return nil, nil
	}
	cl, err := kgo.NewClient(append(base,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: new client for %v: %w", cfg.Brokers, err)
	}
	defer cl.Close()
	out := make([]*kgo.Record, 0, to-from+1)
	for {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("kafka: read %s/%d %d..%d: %w (got up to %d)", topic, partition, from, to, err, from+int64(len(out))-1)
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("kafka: fetch %s/%d: %w", t, p, err) })
		if ferr != nil {
			return out, ferr
		}
		// Done at the range's end, or at the partition's end: the last
		// offsets may hold no record (transaction markers, compaction).
		done := false
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				if r.Offset >= from && r.Offset <= to {
					out = append(out, r)
				}
				done = done || r.Offset >= to
			}
			if n := len(p.Records); n > 0 && p.Records[n-1].Offset+1 >= p.HighWatermark {
				done = true
			}
		})
		if done {
			return out, nil
		}
	}
}
