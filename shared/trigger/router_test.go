package trigger_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jobweaver/jobweaver/shared/trigger"
)

// recorder is a Router whose handlers record what reached them.
type recorder struct {
	kafka    []events.KafkaEvent
	ticks    int
	requests []string
	kafkaErr error
}

func (rec *recorder) router(name string, kafka, schedule, serve bool) trigger.Router {
	r := trigger.Router{Name: name}
	if kafka {
		r.Kafka = func(_ context.Context, ev events.KafkaEvent) error {
			rec.kafka = append(rec.kafka, ev)
			return rec.kafkaErr
		}
	}
	if schedule {
		r.Schedule = func(context.Context) (any, error) {
			rec.ticks++
			return map[string]int{"passes": 1}, nil
		}
	}
	if serve {
		r.HTTP = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			rec.requests = append(rec.requests, req.Method+" "+req.URL.Path)
			w.WriteHeader(http.StatusTeapot)
		})
	}
	return r
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Each kind reaches its handler, decoded; what the router does not take,
// or cannot decode, is an error that starts with its name.
func TestRouterHandle(t *testing.T) {
	t.Parallel()
	all := [3]bool{true, true, true}
	noSchedule := [3]bool{true, false, true}
	boom := errors.New("database down")
	cases := []struct {
		name     string
		takes    [3]bool // Kafka, Schedule, HTTP
		payload  string
		kafkaErr error
		// what reached the handlers
		kafka, ticks int
		request      string
		// the result
		status  int    // an API Gateway response with this status
		passes  bool   // the Schedule handler's result
		wantErr string // else an error with this text
	}{
		{name: "kafka", takes: all, payload: fixture(t, "kafka-msk.json"), kafka: 1},
		{name: "self-managed kafka", takes: noSchedule, payload: fixture(t, "kafka-self-managed.json"), kafka: 1},
		{name: "kafka handler fails", takes: all, payload: fixture(t, "kafka-msk.json"), kafkaErr: boom, kafka: 1, wantErr: "database down"},
		{name: "schedule", takes: all, payload: fixture(t, "eventbridge-schedule.json"), ticks: 1, passes: true},
		{name: "http", takes: all, payload: fixture(t, "apigw-v2-http.json"), request: "POST /api/jobs", status: http.StatusTeapot},
		{name: "function url", takes: noSchedule, payload: fixture(t, "function-url.json"), request: "GET /health", status: http.StatusTeapot},
		{name: "not an object", takes: all, payload: `[1]`, wantErr: "fn: trigger: payload is not a JSON object"},
		{name: "sqs to a router without SQS", takes: all, payload: fixture(t, "sqs.json"),
			wantErr: "fn: unsupported trigger payload (not Kafka, schedule or API Gateway v2)"},
		{name: "a trigger it does not take", takes: noSchedule, payload: fixture(t, "eventbridge-schedule.json"),
			wantErr: "fn: unsupported trigger payload (not Kafka or API Gateway v2)"},
		{name: "kafka only", takes: [3]bool{true, false, false}, payload: fixture(t, "apigw-v2-http.json"),
			wantErr: "fn: unsupported trigger payload (not Kafka)"},
		{name: "no handler", payload: fixture(t, "kafka-msk.json"), wantErr: "fn: unsupported trigger payload (not any trigger)"},
		{name: "kafka of the wrong shape", takes: all, payload: `{"eventSource":"aws:kafka","records":[1]}`,
			wantErr: "fn: decode Kafka event: json: cannot unmarshal"},
		{name: "http of the wrong shape", takes: all, payload: `{"routeKey":"$default","requestContext":{"http":[]}}`,
			wantErr: "fn: decode API Gateway event: json: cannot unmarshal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{kafkaErr: c.kafkaErr}
			r := rec.router("fn", c.takes[0], c.takes[1], c.takes[2])
			out, err := r.Handle(context.Background(), json.RawMessage(c.payload))
			if len(rec.kafka) != c.kafka || rec.ticks != c.ticks || strings.Join(rec.requests, ",") != c.request {
				t.Errorf("handlers got %d Kafka events, %d ticks, requests %q; want %d, %d, %q",
					len(rec.kafka), rec.ticks, rec.requests, c.kafka, c.ticks, c.request)
			}
			if c.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), c.wantErr) {
					t.Fatalf("error %v; want %q", err, c.wantErr)
				}
				if c.kafkaErr != nil && !errors.Is(err, c.kafkaErr) {
					t.Errorf("error %v does not wrap the handler's", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case c.kafka > 0:
				if out != nil || len(rec.kafka[0].Records) == 0 {
					t.Errorf("Kafka: result %v, %d record groups; want null and the event's records", out, len(rec.kafka[0].Records))
				}
			case c.passes:
				if m, ok := out.(map[string]int); !ok || m["passes"] != 1 {
					t.Errorf("schedule result %v; want the handler's", out)
				}
			default:
				if resp, ok := out.(events.APIGatewayV2HTTPResponse); !ok || resp.StatusCode != c.status {
					t.Errorf("HTTP result %#v; want status %d", out, c.status)
				}
			}
		})
	}
}

// FuzzRouterHandle: a router never panics on any payload, and each payload
// reaches at most one handler.
func FuzzRouterHandle(f *testing.F) {
	addFixtures(f)
	f.Add([]byte(`{"eventSource":"aws:kafka","records":[1]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		rec := &recorder{}
		_, _ = rec.router("fn", true, true, true).Handle(context.Background(), payload)
		if n := len(rec.kafka) + rec.ticks + len(rec.requests); n > 1 {
			t.Fatalf("%d handlers ran", n)
		}
	})
}

func TestRouterSQS(t *testing.T) {
	t.Parallel()
	var got []string
	r := trigger.Router{Name: "fn", SQS: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		for _, m := range ev.Records {
			got = append(got, m.MessageId+":"+m.Body)
		}
		return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: ev.Records[0].MessageId}}}, nil
	}}
	out, err := r.Handle(context.Background(), json.RawMessage(fixture(t, "sqs.json")))
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := out.(events.SQSEventResponse)
	if !ok || len(resp.BatchItemFailures) != 1 || strings.Join(got, ",") != "059f36b4-87a3-44ab-83d2-661975830a7d:test" {
		t.Fatalf("SQS: handler saw %v, result %#v", got, out)
	}
	if _, err := r.Handle(context.Background(), json.RawMessage(fixture(t, "kafka-msk.json"))); err == nil ||
		!strings.Contains(err.Error(), "(not SQS)") {
		t.Fatalf("Kafka to an SQS-only router: %v", err)
	}
	if _, err := r.Handle(context.Background(), json.RawMessage(`{"Records":[{"eventSource":"aws:sqs","body":7}]}`)); err == nil ||
		!strings.Contains(err.Error(), "decode SQS event") {
		t.Fatalf("SQS of the wrong shape: %v", err)
	}
}
