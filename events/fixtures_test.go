// Package fixtures checks the sample events in this folder: each one
// survives a round trip through aws-lambda-go's event type, is recognized
// by trigger.Detect, and (for Kafka) carries valid envelopes.
package fixtures

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/trigger"
)

var fixtures = []struct {
	file  string
	kind  trigger.Kind
	topic string // Kafka fixtures: every record's topic
}{
	{"api/post-job.json", trigger.HTTP, ""},
	{"api/get-job.json", trigger.HTTP, ""},
	{"api/list-jobs.json", trigger.HTTP, ""},
	{"api/post-job-batch.json", trigger.HTTP, ""},
	{"api/list-executions.json", trigger.HTTP, ""},
	{"api/cancel-job.json", trigger.HTTP, ""},
	{"api/list-dlq.json", trigger.HTTP, ""},
	{"api/get-dlq-entry.json", trigger.HTTP, ""},
	{"api/health.json", trigger.HTTP, ""},
	{"api/actuator-health.json", trigger.HTTP, ""},
	{"scheduler/tick.json", trigger.Schedule, ""},
	{"scheduler/job-created.json", trigger.Kafka, envelope.TopicJobCreated},
	{"scheduler/job-completed.json", trigger.Kafka, envelope.TopicJobCompleted},
	{"scheduler/job-failed.json", trigger.Kafka, envelope.TopicJobFailed},
	{"worker/run-job.json", trigger.Kafka, envelope.TopicRunJob},
	{"dlq/job-dead-letter.json", trigger.Kafka, envelope.TopicJobDeadLetter},
	{"dlq/mapping-failure.json", trigger.SQS, ""},
}

func TestEveryFixtureIsListed(t *testing.T) {
	files, err := filepath.Glob("*/*.json")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, f := range fixtures {
		listed[f.file] = true
	}
	for _, f := range files {
		if !listed[f] {
			t.Errorf("%s is not checked by this test; add it to fixtures", f)
		}
	}
}

func TestFixtures(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			raw, err := os.ReadFile(f.file)
			if err != nil {
				t.Fatal(err)
			}
			kind, err := trigger.Detect(raw)
			if err != nil || kind != f.kind {
				t.Fatalf("trigger.Detect = %s, %v; want %s", kind, err, f.kind)
			}
			switch f.kind {
			case trigger.HTTP:
				var ev events.APIGatewayV2HTTPRequest
				roundTrip(t, raw, &ev)
				if ev.Version != "2.0" || ev.RequestContext.HTTP.Method == "" || ev.RawPath != ev.RequestContext.HTTP.Path {
					t.Errorf("not a complete API Gateway v2 request: %+v", ev)
				}
				if ev.Body != "" && !json.Valid([]byte(ev.Body)) {
					t.Errorf("body is not JSON: %s", ev.Body)
				}
			case trigger.Schedule:
				var ev events.EventBridgeEvent
				roundTrip(t, raw, &ev)
				if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || ev.Version != "0" || len(ev.Resources) == 0 {
					t.Errorf("not a scheduled event: %+v", ev)
				}
			case trigger.Kafka:
				var ev events.KafkaEvent
				roundTrip(t, raw, &ev)
				checkKafka(t, ev, f.topic)
			case trigger.SQS:
				var ev events.SQSEvent
				roundTrip(t, raw, &ev)
				if len(ev.Records) == 0 || ev.Records[0].EventSource != "aws:sqs" || !json.Valid([]byte(ev.Records[0].Body)) {
					t.Errorf("not an SQS event with a JSON body: %+v", ev)
				}
			}
		})
	}
}

func checkKafka(t *testing.T, ev events.KafkaEvent, topic string) {
	t.Helper()
	if ev.EventSource != "aws:kafka" || ev.EventSourceARN == "" || ev.BootstrapServers == "" {
		t.Errorf("event source %q, ARN %q, bootstrap servers %q", ev.EventSource, ev.EventSourceARN, ev.BootstrapServers)
	}
	n := 0
	for key, rs := range ev.Records {
		for i, r := range rs {
			n++
			if want := fmt.Sprintf("%s-%d", r.Topic, r.Partition); key != want {
				t.Errorf("record of %s filed under %q", want, key)
			}
			if r.Topic != topic {
				t.Errorf("record on topic %s; want %s", r.Topic, topic)
			}
			if i > 0 && r.Offset <= rs[i-1].Offset {
				t.Errorf("%s: offset %d after %d", key, r.Offset, rs[i-1].Offset)
			}
			env, err := kafka.Decode(r)
			if err != nil {
				t.Errorf("%s@%d: %v", key, r.Offset, err)
				continue
			}
			if env.Topic() != topic {
				t.Errorf("%s@%d: a %s envelope on %s", key, r.Offset, env.Type, topic)
			}
			if id := kafka.Header(r, "eventId"); id != "" && id != env.EventID {
				t.Errorf("%s@%d: eventId header %s, envelope %s", key, r.Offset, id, env.EventID)
			}
			if tr := kafka.Header(r, "traceId"); tr != "" && tr != env.TraceID {
				t.Errorf("%s@%d: traceId header %s, envelope %s", key, r.Offset, tr, env.TraceID)
			}
			checkPayload(t, env)
		}
	}
	if n == 0 {
		t.Errorf("no records")
	}
}

// checkPayload decodes the payload strictly into its type.
func checkPayload(t *testing.T, env envelope.Envelope) {
	t.Helper()
	var v any
	switch env.Type {
	case envelope.TypeJobCreated:
		v = &envelope.JobCreated{}
	case envelope.TypeRunJob:
		v = &envelope.RunJob{}
	case envelope.TypeJobCompleted, envelope.TypeJobFailed:
		v = &envelope.AttemptResult{}
	case envelope.TypeJobDeadLetter:
		v = &envelope.JobDeadLetter{}
	}
	dec := json.NewDecoder(bytes.NewReader(env.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Errorf("%s payload: %v", env.Type, err)
	}
}

// roundTrip decodes raw into v, encodes v again, and checks that nothing
// in raw was lost or changed. The encoder may add fields raw leaves out,
// but only with zero values (aws-lambda-go writes some empty structs).
func roundTrip(t *testing.T, raw []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode into %T: %v", v, err)
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &got); err != nil {
		t.Fatal(err)
	}
	compare(t, "$", want, got)
}

func compare(t *testing.T, path string, want, got any) {
	t.Helper()
	wm, wok := want.(map[string]any)
	gm, gok := got.(map[string]any)
	if wok && gok {
		for k, wv := range wm {
			gv, ok := gm[k]
			if !ok {
				t.Errorf("%s.%s lost in the round trip", path, k)
				continue
			}
			compare(t, path+"."+k, wv, gv)
		}
		for k, gv := range gm {
			if _, ok := wm[k]; !ok && !zero(gv) {
				t.Errorf("%s.%s = %v appeared in the round trip", path, k, gv)
			}
		}
		return
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%s: %v became %v in the round trip", path, want, got)
	}
}

func zero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case float64:
		return x == 0
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case map[string]any:
		for _, e := range x {
			if !zero(e) {
				return false
			}
		}
		return true
	}
	return false
}
