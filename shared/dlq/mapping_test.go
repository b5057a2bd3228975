package dlq_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/paging"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// failureMessage is a mapping-failures queue message as Lambda writes it
// for a Kafka batch it gave up on (Lambda guide, "Capturing discarded
// batches for an Amazon MSK event source").
func failureMessage(id string, ranges map[string][2]int64) events.SQSMessage {
	var info []string
	for key, r := range ranges {
		info = append(info, fmt.Sprintf(`%q: {"firstRecordOffset": "%d", "lastRecordOffset": "%d",
			"firstRecordTimestamp": "2026-11-29T10:00:00.000Z", "lastRecordTimestamp": "2026-11-29T10:00:01.000Z"}`, key, r[0], r[1]))
	}
	body := `{
  "requestContext": {"requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
    "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:jobweaver-prod-scheduler",
    "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
  "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
  "version": "1.0", "timestamp": "2026-11-29T10:05:06.021Z",
  "KafkaBatchInfo": {"batchSize": 500,
    "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/jobweaver-prod/abc-2",
    "bootstrapServers": "b-1.example:9098", "payloadSize": 2039,
    "recordsInfo": {` + strings.Join(info, ",") + `}}}`
	return events.SQSMessage{MessageId: id, Body: body, EventSource: "aws:sqs"}
}

func TestHandleSQSReplaysMappingFailures(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	kcfg := kafka.Config{Brokers: brokers, ClientID: t.Name()}
	prod, err := kafka.NewProducer(kcfg, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Six records on job-created/2; the third went round twice, the
	// fourth three times already.
	for i := range 6 {
		r := &kgo.Record{Topic: envelope.TopicJobCreated, Partition: 2, Key: fmt.Appendf(nil, "job-%d", i), Value: fmt.Appendf(nil, "v%d", i),
			Headers: []kgo.RecordHeader{{Key: "traceId", Value: []byte("t")}}}
		switch i {
		case 2:
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: dlq.ReplayHeader, Value: []byte("2")})
		case 3:
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: dlq.ReplayHeader, Value: []byte("3")})
		}
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// And two plain ones on job-completed/0.
	for i := range 2 {
		r := &kgo.Record{Topic: envelope.TopicJobCompleted, Partition: 0, Key: []byte("k"), Value: fmt.Appendf(nil, "c%d", i)}
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	pool := pgtest.Pool(t, dlq.Migrations())
	svc, err := dlq.New(dlq.Config{}, &wiring.Deps{Pool: pool, Producer: prod, Kafka: kcfg, Log: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}

	ev := events.SQSEvent{Records: []events.SQSMessage{
		failureMessage("m1", map[string][2]int64{envelope.TopicJobCreated + "-2": {1, 3}, envelope.TopicJobCompleted + "-0": {0, 1}}),
		{MessageId: "m2", Body: `not a failure record`, EventSource: "aws:sqs"},
	}}
	for delivery := range 2 { // the queue may deliver a message twice
		resp, err := svc.HandleSQS(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("delivery %d: %+v, %v", delivery, resp, err)
		}
	}

	// The range's records, produced again once, each with its count; the
	// one that went round three times is left out.
	recs, err := kafka.ReadRange(ctx, kcfg, envelope.TopicJobCreated, 2, 6, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s/%s/%s/%d", r.Key, r.Value, header(r, dlq.ReplayHeader), len(r.Headers)))
	}
	if want := "job-1/v1/1/2 job-2/v2/3/2"; strings.Join(got, " ") != want {
		t.Fatalf("produced again: %v, want %s", got, want)
	}

	completed, err := kafka.ReadRange(ctx, kcfg, envelope.TopicJobCompleted, 0, 2, 100)
	if err != nil || len(completed) != 2 || string(completed[0].Value) != "c0" || header(completed[1], dlq.ReplayHeader) != "1" {
		t.Fatalf("job-completed produced again: %v, %v", completed, err)
	}

	// The entries: one for the range (partly replayed: a record went
	// round too often), one holding the unreadable message.
	page, err := svc.List(ctx, paging.Request{Page: 0, Size: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Content) != 3 {
		t.Fatalf("%d entries, want 3: %+v", len(page.Content), page.Content)
	}
	byID := map[string]dlq.Entry{}
	for _, e := range page.Content {
		byID[e.ID] = e
	}
	e, ok := byID[dlq.MappingFailureID(envelope.TopicJobCreated, 2, 1, 3)]
	if !ok || e.Reason != dlq.ReasonMappingFailure || e.ErrorCode != dlq.CodeMappingGaveUp || e.Status != dlq.StatusPartlyReplayed ||
		e.Source == nil || e.Source.Topic != envelope.TopicJobCreated || e.Source.Partition != 2 || e.Source.Offset != 1 || e.Source.LastOffset != 3 ||
		e.Source.Condition != "RetryAttemptsExhausted" || !strings.Contains(e.LastError, "jobweaver-prod-scheduler gave up on offsets 1..3") ||
		!strings.Contains(e.LastError, "2 records produced again") || !strings.Contains(e.LastError, "1 records were already produced again 3 times") {
		t.Fatalf("range entry: %+v (source %+v)", e, e.Source)
	}
	if e := byID[dlq.MappingFailureID(envelope.TopicJobCompleted, 0, 0, 1)]; e.Status != dlq.StatusReplayed ||
		!strings.Contains(e.LastError, "2 records produced again to job-completed") {
		t.Fatalf("job-completed entry: %+v", e)
	}
	var unreadable dlq.Entry
	for _, e := range byID {
		if e.Source != nil && e.Source.Topic == "" {
			unreadable = e
		}
	}
	// A list entry leaves the raw value out; the entry itself has it.
	if !unreadable.Truncated || unreadable.Source == nil || unreadable.Source.Value != "" {
		t.Fatalf("unreadable message list entry: %+v", unreadable)
	}
	if unreadable, err = svc.Get(ctx, unreadable.ID); err != nil {
		t.Fatal(err)
	}
	if unreadable.Reason != dlq.ReasonMappingFailure || unreadable.Source == nil || unreadable.Source.Value != "not a failure record" ||
		!strings.Contains(unreadable.LastError, "not a Kafka failure record") {
		t.Fatalf("unreadable message entry: %+v", unreadable)
	}
}

func TestHandleSQSRetriesWhatItCannotReplay(t *testing.T) {
	prod := kafkatest.Producer(t, kafkatest.Cluster(t))
	pool := pgtest.Pool(t, dlq.Migrations())
	// A broker that is gone: the range cannot be read back.
	gone := kafka.Config{Brokers: []string{"127.0.0.1:1"}, ClientID: t.Name()}
	svc, err := dlq.New(dlq.Config{}, &wiring.Deps{Pool: pool, Producer: prod, Kafka: gone, Log: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg := failureMessage("m1", map[string][2]int64{envelope.TopicRunJob + "-0": {0, 9}})
	resp, err := svc.HandleSQS(ctx, events.SQSEvent{Records: []events.SQSMessage{msg}})
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m1" {
		t.Fatalf("HandleSQS = %+v, %v; want m1 reported for redelivery", resp, err)
	}
	// The entry is stored already, not yet replayed.
	if n := count(t, pool); n != 1 {
		t.Fatalf("%d entries, want 1", n)
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
