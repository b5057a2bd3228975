package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/kafka"
)

func TestPermanent(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{kerr.MessageTooLarge, true},
		{fmt.Errorf("%w (uncompressed_bytes=2000000)", kerr.MessageTooLarge), true}, // the producer's own refusal
		{kerr.RecordListTooLarge, true},
		{kerr.InvalidRecord, true},
		{kerr.CorruptMessage, false}, // retriable: a CRC can fail in transit
		{kerr.InvalidTopicException, true},
		{kafka.CheckSize(&kgo.Record{Value: make([]byte, kafka.MaxEventBytes+1)}), true},
		// Retriable, or about the whole client: the row waits.
		{kerr.NotLeaderForPartition, false},
		{kerr.RequestTimedOut, false},
		{kerr.TopicAuthorizationFailed, false},
		{kgo.ErrRecordTimeout, false},
		{context.DeadlineExceeded, false},
		{errors.New("dial tcp: connection refused"), false},
	} {
		if got := kafka.Permanent(c.err); got != c.want {
			t.Errorf("Permanent(%v) = %v; want %v", c.err, got, c.want)
		}
	}
	if err := kafka.CheckSize(&kgo.Record{Value: make([]byte, kafka.MaxEventBytes)}); err != nil {
		t.Errorf("CheckSize at the limit = %v", err)
	}
}

// The limits nest: an event, with its key and headers, fits the producer's
// batch, which fits the broker's default message.max.bytes.
func TestLimitsNest(t *testing.T) {
	if !(kafka.MaxEventBytes+48_000 < kafka.MaxRecordBytes && kafka.MaxRecordBytes < kafka.BrokerMaxMessageBytes) {
		t.Fatalf("MaxEventBytes %d, MaxRecordBytes %d, BrokerMaxMessageBytes %d do not nest with headroom",
			kafka.MaxEventBytes, kafka.MaxRecordBytes, kafka.BrokerMaxMessageBytes)
	}
}
