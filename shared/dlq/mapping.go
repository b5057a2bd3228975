package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/pgtext"
)

// What the dlq makes of a batch an event-source mapping gave up on.
const (
	ReasonMappingFailure = "MAPPING_FAILURE"
	CodeMappingGaveUp    = "DLQ.MAPPING_GAVE_UP"
	// StatusReplayed: the range's records were produced again to their
	// topic (the consumers are idempotent, so records that had been
	// processed after all change nothing).
	StatusReplayed = "REPLAYED"
	// StatusPartlyReplayed: some of the range's records were not produced
	// again (they went round MaxReplays times, or retention deleted them):
	// an operator's turn.
	StatusPartlyReplayed = "PARTLY_REPLAYED"
	// ReplayHeader counts how often a record was produced again; a record
	// that already went round MaxReplays times is left for an operator.
	ReplayHeader = "jobweaver-replays"
	MaxReplays   = 3
)

var mappingNS = uuid.MustParse("3c2f4a1e-7d0b-4b8e-9a55-1f2e3d4c5b6a")

// MappingFailureID is the ID of the entry for one topic-partition range of
// a failure message: the same for every delivery of the message.
func MappingFailureID(topic string, partition, first, last int64) string {
	return uuid.NewSHA1(mappingNS, fmt.Appendf(nil, "%s/%d/%d-%d", topic, partition, first, last)).String()
}

// failureRecord is the invocation record Lambda sends to a Kafka
// event-source mapping's on-failure destination ("Capturing discarded
// batches for an Amazon MSK event source" in the Lambda guide).
type failureRecord struct {
	RequestContext struct {
		FunctionARN            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	ResponseContext struct {
		FunctionError string `json:"functionError"`
	} `json:"responseContext"`
	Timestamp      time.Time `json:"timestamp"`
	KafkaBatchInfo *struct {
		BatchSize   int `json:"batchSize"`
		RecordsInfo map[string]struct {
			FirstRecordOffset string `json:"firstRecordOffset"`
			LastRecordOffset  string `json:"lastRecordOffset"`
		} `json:"recordsInfo"` // by "<topic>-<partition>"
	} `json:"KafkaBatchInfo"`
}

// HandleSQS takes the messages of the mapping-failures queue: each names
// Kafka offset ranges a mapping gave up on. Every range becomes a
// dead-letter entry (reason MAPPING_FAILURE), and with a producer its
// records are produced again to their topic, so that nothing a failing
// database or broker made a mapping skip is lost. A message it could not
// store or replay is reported for SQS to deliver again; a message it
// cannot read is stored as it is, for an operator.
func (s *Service) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	defer s.metrics.Flush()
	for _, m := range ev.Records {
		if err := s.mappingFailure(ctx, m, time.Now().UTC()); err != nil {
			s.log.ErrorContext(ctx, "mapping failure not handled yet; the queue delivers it again",
				"messageId", m.MessageId, "error", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

// mappingRange is one topic-partition range of a failure message.
type mappingRange struct {
	row
	src envelope.PoisonSource
}

func (s *Service) mappingFailure(ctx context.Context, m events.SQSMessage, now time.Time) error {
	ranges := decodeFailure(m, now)
	rows := make([]row, len(ranges))
	for i, r := range ranges {
		rows[i] = r.row
	}
	stored, err := s.store(ctx, rows)
	if err != nil {
		return err
	}
	for _, r := range ranges {
		if stored[r.eventID] {
			s.metrics.Count("MappingFailures", 1)
			s.log.ErrorContext(ctx, "an event-source mapping gave up on a Kafka batch", "id", r.eventID,
				"topic", r.src.Topic, "partition", r.src.Partition, "firstOffset", r.src.Offset, "lastOffset", r.src.LastOffset,
				"function", r.src.Function, "condition", r.src.Condition)
		}
		if r.src.Topic == "" || s.producer == nil {
			continue // nothing to replay, or no broker to replay to
		}
		if err := s.replayRange(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// replayRange produces the range's records again, once: only an entry
// still NEW is replayed (a redelivered message finds it done).
func (s *Service) replayRange(ctx context.Context, r mappingRange) error {
	var status string
	if err := s.pool.QueryRow(ctx, `SELECT status FROM dead_letters WHERE event_id = $1`, r.eventID).Scan(&status); err != nil {
		return fmt.Errorf("status of %s: %w", r.eventID, err)
	}
	if status != StatusNew {
		return nil
	}
	recs, err := kafka.ReadRange(ctx, s.kafka, r.src.Topic, int32(r.src.Partition), r.src.Offset, r.src.LastOffset)
	if err != nil {
		return fmt.Errorf("read %s/%d %d..%d: %w", r.src.Topic, r.src.Partition, r.src.Offset, r.src.LastOffset, err)
	}
	again := make([]*kgo.Record, 0, len(recs))
	tooOften := 0
	for _, rec := range recs {
		n := replays(rec)
		if n >= MaxReplays {
			tooOften++
			continue
		}
		headers := make([]kgo.RecordHeader, 0, len(rec.Headers)+1)
		for _, h := range rec.Headers {
			if h.Key != ReplayHeader {
				headers = append(headers, h)
			}
		}
		headers = append(headers, kgo.RecordHeader{Key: ReplayHeader, Value: []byte(strconv.Itoa(n + 1))})
		again = append(again, &kgo.Record{Topic: rec.Topic, Partition: rec.Partition, Key: rec.Key, Value: rec.Value, Headers: headers})
	}
	if len(again) > 0 {
		if err := s.producer.ProduceSync(ctx, again...).FirstErr(); err != nil {
			return fmt.Errorf("produce %d records to %s again: %w", len(again), r.src.Topic, err)
		}
	}
	s.metrics.Count("RecordsReplayed", len(again))
	note := fmt.Sprintf("%d records produced again to %s", len(again), r.src.Topic)
	missing := r.src.LastOffset - r.src.Offset + 1 - int64(len(recs))
	newStatus := StatusReplayed
	if missing > 0 {
		newStatus = StatusPartlyReplayed
		note += fmt.Sprintf("; %d offsets of the range hold no record any more (deleted by retention: those cannot be replayed)", missing)
	}
	if tooOften > 0 {
		newStatus = StatusPartlyReplayed
		note += fmt.Sprintf("; %d records were already produced again %d times and were left out: find why their consumer fails before replaying them", tooOften, MaxReplays)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE dead_letters SET status = $2, last_error = left(coalesce(last_error, '') || '. ' || $3, $4) WHERE event_id = $1`,
		r.eventID, newStatus, note, maxText); err != nil {
		return fmt.Errorf("mark %s %s: %w", r.eventID, newStatus, err)
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "mapping failure replayed", slog.String("id", r.eventID), slog.String("status", newStatus),
		slog.String("topic", r.src.Topic), slog.Int("records", len(again)), slog.String("note", note))
	return nil
}

// replays is a record's ReplayHeader count (0 without one).
func replays(rec *kgo.Record) int {
	for _, h := range rec.Headers {
		if h.Key == ReplayHeader {
			n, _ := strconv.Atoi(string(h.Value))
			return n
		}
	}
	return 0
}

// decodeFailure turns a failure message into one entry per topic-partition
// range. It never fails: a message it cannot read becomes one entry that
// holds the message.
func decodeFailure(m events.SQSMessage, now time.Time) []mappingRange {
	var f failureRecord
	err := json.Unmarshal([]byte(m.Body), &f)
	if err == nil && (f.KafkaBatchInfo == nil || len(f.KafkaBatchInfo.RecordsInfo) == 0) {
		err = errors.New("no KafkaBatchInfo.recordsInfo")
	}
	failedAt := f.Timestamp
	if failedAt.IsZero() {
		failedAt = now
	}
	base := row{reason: ReasonMappingFailure, errorCode: CodeMappingGaveUp, attempts: []byte("[]"), failedAt: failedAt}
	var out []mappingRange
	if err == nil {
		for key, info := range f.KafkaBatchInfo.RecordsInfo {
			topic, partition, perr := splitTopicPartition(key)
			first, ferr := strconv.ParseInt(info.FirstRecordOffset, 10, 64)
			last, lerr := strconv.ParseInt(info.LastRecordOffset, 10, 64)
			if err = errors.Join(perr, ferr, lerr); err != nil || last < first {
				err = fmt.Errorf("recordsInfo %q: offsets %q..%q: %v", key, info.FirstRecordOffset, info.LastRecordOffset, err)
				break
			}
			r := mappingRange{row: base, src: envelope.PoisonSource{
				Topic: pgtext.Clean(topic, 255), Partition: partition, Offset: first, LastOffset: last,
				Function: pgtext.Clean(f.RequestContext.FunctionARN, 300), Condition: pgtext.Clean(f.RequestContext.Condition, 100),
				Value: pgtext.Clean(m.Body, -1),
			}}
			r.eventID = MappingFailureID(topic, partition, first, last)
			r.lastError = pgtext.Clean(fmt.Sprintf("the event-source mapping of %s gave up on offsets %d..%d of %s partition %d (%s after %d invocations, %s)",
				functionName(f.RequestContext.FunctionARN), first, last, topic, partition,
				f.RequestContext.Condition, f.RequestContext.ApproximateInvokeCount, f.ResponseContext.FunctionError), maxText)
			r.source, _ = json.Marshal(r.src)
			out = append(out, r)
		}
	}
	if err != nil {
		// Unreadable: keep the message itself, under its message ID.
		r := mappingRange{row: base}
		r.eventID = uuid.NewSHA1(mappingNS, []byte("message/"+m.MessageId)).String()
		r.lastError = pgtext.Clean("a mapping-failures message that is not a Kafka failure record: "+err.Error(), maxText)
		r.source, _ = json.Marshal(envelope.PoisonSource{Value: pgtext.Clean(m.Body, -1), Partition: -1, Offset: -1})
		return []mappingRange{r}
	}
	return out
}

// splitTopicPartition splits "job-created-3" into job-created and 3.
func splitTopicPartition(key string) (string, int64, error) {
	i := strings.LastIndexByte(key, '-')
	if i <= 0 {
		return "", 0, fmt.Errorf("%q is not <topic>-<partition>", key)
	}
	p, err := strconv.ParseInt(key[i+1:], 10, 32)
	if err != nil || p < 0 {
		return "", 0, fmt.Errorf("%q is not <topic>-<partition>", key)
	}
	return key[:i], p, nil
}

// functionName is the name in a function ARN (the ARN if it has none).
func functionName(arn string) string {
	if parts := strings.Split(arn, ":"); len(parts) >= 7 && parts[5] == "function" {
		return parts[6]
	}
	return arn
}
