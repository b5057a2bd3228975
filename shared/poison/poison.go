// Package poison is the one way every consumer (scheduler, worker, dlq)
// turns a Kafka record it can never process (not an envelope, a wrong
// type, a payload that does not decode) into a POISON_RECORD dead letter.
//
// The dead letter's event ID derives from where the record sits (topic,
// partition, offset), so a redelivered poison record makes the same event,
// which the dlq stores once. Its trace and job IDs come from what decoded
// of the record, or its headers and key. It carries the record's raw
// (base64) value, cut if the dead letter would not fit the broker's record
// limit, with a "trimmed" marker saying so.
package poison

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/pgtext"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// Reason is the dead letter's reason.
const Reason = "POISON_RECORD"

// ns is the worker's former namespace, so that the IDs of its poison
// dead letters did not change when the three services came to share it.
var ns = uuid.MustParse("433dc6b5-5be9-4024-929a-3538dec77a14")

// EventID is the event ID of the dead letter for the record at
// topic/partition/offset: the same for every delivery of that record.
// Each topic is consumed by one service, so the IDs never collide.
func EventID(topic string, partition, offset int64) string {
	return uuid.NewSHA1(ns, fmt.Appendf(nil, "%s/%d/%d", topic, partition, offset)).String()
}

// DeadLetter builds the POISON_RECORD dead letter for rec, which failed
// with cause; code is the consumer's error code (say
// SCHEDULER.POISON_RECORD). It returns the event and its payload.
func DeadLetter(rec events.KafkaRecord, cause error, code string, now time.Time) (envelope.Envelope, envelope.JobDeadLetter) {
	eventID := EventID(rec.Topic, rec.Partition, rec.Offset)
	env, _ := kafka.Decode(rec) // whatever decoded, even with an error
	traceID := pgtext.Clean(env.TraceID, 200)
	if traceID == "" {
		traceID = pgtext.Clean(kafka.Header(rec, trace.KafkaTraceHeader), 200)
	}
	if traceID == "" {
		traceID = eventID // deterministic, like the rest
	}
	jobID := ""
	if id, err := uuid.Parse(env.JobID); err == nil {
		jobID = id.String()
	} else if k, err := base64.StdEncoding.DecodeString(rec.Key); err == nil {
		if id, err := uuid.ParseBytes(k); err == nil {
			jobID = id.String()
		}
	}
	now = now.UTC()
	dl := envelope.JobDeadLetter{
		Reason:    Reason,
		ErrorCode: code,
		LastError: pgtext.Clean(cause.Error(), envelope.MaxErrorBytes),
		Attempts:  []envelope.AttemptSummary{},
		FailedAt:  now,
		Source: &envelope.PoisonSource{
			Topic:     pgtext.Clean(rec.Topic, 255),
			Partition: rec.Partition,
			Offset:    rec.Offset,
			Value:     pgtext.Clean(rec.Value, -1),
		},
	}
	e, err := envelope.NewDeadLetter(traceID, jobID, dl, kafka.MaxEventBytes)
	if err != nil { // cannot happen: the value can always be cut
		e, _ = envelope.New(envelope.TypeJobDeadLetter, traceID, jobID, envelope.JobDeadLetter{
			Reason: Reason, ErrorCode: code, Attempts: []envelope.AttemptSummary{}, FailedAt: now,
			LastError: "the dead letter could not be built: " + err.Error(),
		})
	}
	e.EventID, e.Time = eventID, now
	_ = e.DecodePayload(&dl) // the trimmed form, as sent
	return e, dl
}
