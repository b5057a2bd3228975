package kafka

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Record size limits. Kafka brokers, Amazon MSK (whose default
// configuration keeps Kafka's value) and kfake all refuse a produced
// record batch larger than message.max.bytes, 1,048,588 bytes by default,
// with MESSAGE_TOO_LARGE; the producer (NewProducer) caps a batch at
// MaxRecordBytes, 1 MiB, and refuses a bigger record itself.
const (
	// BrokerMaxMessageBytes is the broker's default message.max.bytes.
	BrokerMaxMessageBytes = 1_048_588
	// MaxRecordBytes is the producer's batch limit (ProducerBatchMaxBytes):
	// one record, with its key, headers and the batch framing, must fit.
	MaxRecordBytes = 1 << 20
	// MaxEventBytes is the one limit every event is held to: its encoded
	// envelope (the record value). The 48,576 bytes left to MaxRecordBytes
	// cover the key (a 36-byte job ID), the headers (traceId, eventId,
	// type, traceparent: under 400 bytes) and the record and batch
	// framing (under 100 bytes) many times over.
	MaxEventBytes = 1_000_000
)

// ErrEventTooLarge is wrapped by CheckSize's error.
var ErrEventTooLarge = errors.New("event too large for the broker")

// CheckSize says whether r's value fits MaxEventBytes.
func CheckSize(r *kgo.Record) error {
	if len(r.Value) > MaxEventBytes {
		return fmt.Errorf("%w: %d bytes, over the %d-byte limit", ErrEventTooLarge, len(r.Value), MaxEventBytes)
	}
	return nil
}

// Permanent reports whether a produce error means that the broker (or
// the producer, which refuses a record over its batch limit with the same
// error) will never accept this record as it is, whatever else happens:
// MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, INVALID_RECORD,
// INVALID_TOPIC_EXCEPTION, and ErrEventTooLarge (CORRUPT_MESSAGE is
// retriable: a checksum can fail in transit). These
// are franz-go kerr errors that are not retriable and are about the
// record itself. Other errors are transient for a relay: retriable ones
// (a leader moving, a timeout, a broker outage), and non-retriable ones
// about the whole client (TOPIC_AUTHORIZATION_FAILED, say), which an
// operator fixes for every row at once and which must not park them all.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrEventTooLarge) {
		return true
	}
	var ke *kerr.Error
	if !errors.As(err, &ke) || ke.Retriable {
		return false
	}
	switch ke.Code {
	case kerr.MessageTooLarge.Code, kerr.RecordListTooLarge.Code, kerr.InvalidRecord.Code,
		kerr.InvalidTopicException.Code:
		return true
	}
	return false
}
