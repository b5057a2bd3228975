package trigger_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jobweaver/jobweaver/shared/trigger"
)

func TestDetectFixtures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file string
		want trigger.Kind
	}{
		{"apigw-v2-http.json", trigger.HTTP},
		{"function-url.json", trigger.HTTP},
		{"kafka-msk.json", trigger.Kafka},
		{"kafka-self-managed.json", trigger.Kafka},
		{"kafka-no-source.json", trigger.Kafka},
		{"eventbridge-schedule.json", trigger.Schedule},
		{"sqs.json", trigger.SQS},
		{"apigw-v1-rest.json", trigger.Unknown},
		{"empty-object.json", trigger.Unknown},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := trigger.Detect(b)
			if err != nil {
				t.Fatalf("Detect: %v", err)
			}
			if got != tc.want {
				t.Fatalf("Detect = %s, want %s", got, tc.want)
			}
		})
	}
}

// Fixtures of the kinds we handle decode into aws-lambda-go's types, and
// what those types encode is detected as the same kind.
func TestDetectRoundTripThroughEventTypes(t *testing.T) {
	t.Parallel()
	roundTrip := func(file string, v any) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cases := []struct {
		payload []byte
		want    trigger.Kind
	}{
		{roundTrip("apigw-v2-http.json", &events.APIGatewayV2HTTPRequest{}), trigger.HTTP},
		{roundTrip("kafka-msk.json", &events.KafkaEvent{}), trigger.Kafka},
		{roundTrip("eventbridge-schedule.json", &events.EventBridgeEvent{}), trigger.Schedule},
		{roundTrip("sqs.json", &events.SQSEvent{}), trigger.SQS},
	}
	for _, tc := range cases {
		if got, err := trigger.Detect(tc.payload); err != nil || got != tc.want {
			t.Errorf("Detect(%.60s…) = %s, %v; want %s", tc.payload, got, err, tc.want)
		}
	}
	// Events built in code, as the local stack builds them.
	built := []struct {
		v    any
		want trigger.Kind
	}{
		{events.APIGatewayV2HTTPRequest{RouteKey: "$default", RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}}, trigger.HTTP},
		{events.KafkaEvent{EventSource: "aws:kafka", Records: map[string][]events.KafkaRecord{}}, trigger.Kafka},
		{events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events", Time: time.Now()}, trigger.Schedule},
	}
	for _, tc := range built {
		b, _ := json.Marshal(tc.v)
		if got, err := trigger.Detect(b); err != nil || got != tc.want {
			t.Errorf("Detect(%T) = %s, %v; want %s", tc.v, got, err, tc.want)
		}
	}
}

func TestDetectRejectsNonObjects(t *testing.T) {
	t.Parallel()
	for _, p := range []string{``, `   `, `null`, `[]`, `[{"eventSource":"aws:kafka"}]`, `42`, `"x"`, `true`, `{`, `not json`} {
		got, err := trigger.Detect([]byte(p))
		if err == nil {
			t.Errorf("Detect(%q) = %s with no error, want an error", p, got)
		}
		if got != trigger.Unknown {
			t.Errorf("Detect(%q) = %s, want unknown", p, got)
		}
	}
}

// FuzzDetect: Detect never panics, and an error always comes with Unknown.
func FuzzDetect(f *testing.F) {
	addFixtures(f)
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		k, err := trigger.Detect(payload)
		if err != nil && k != trigger.Unknown {
			t.Fatalf("Detect = %s with error %v", k, err)
		}
		switch k {
		case trigger.HTTP, trigger.Kafka, trigger.Schedule, trigger.SQS, trigger.Unknown:
		default:
			t.Fatalf("Detect = %q, not a known kind", k)
		}
	})
}

// addFixtures seeds f with every payload of testdata.
func addFixtures(f *testing.F) {
	f.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// A Kafka event whose records have the wrong shape is still Kafka (its
// decoding then fails with the reason), not an SQS event or unknown.
func TestDetectKafkaBeforeRecordsShape(t *testing.T) {
	t.Parallel()
	for _, p := range []string{
		`{"eventSource": "aws:kafka", "records": [{"topic": "job-dead-letter"}]}`,
		`{"eventSource": "SelfManagedKafka", "Records": []}`,
	} {
		if k, err := trigger.Detect([]byte(p)); err != nil || k != trigger.Kafka {
			t.Errorf("Detect(%s) = %s, %v; want kafka", p, k, err)
		}
	}
}
