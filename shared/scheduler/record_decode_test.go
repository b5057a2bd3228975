package scheduler

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
)

func lambdaRecord(e envelope.Envelope) events.KafkaRecord { return kafka.ToLambda(kafka.Record(e)) }

func rawRecord(value string) events.KafkaRecord {
	return events.KafkaRecord{Topic: envelope.TopicJobCreated, Partition: 2, Offset: 9,
		Value: base64.StdEncoding.EncodeToString([]byte(value))}
}

func envWithPayload(t *testing.T, typ, payload string) envelope.Envelope {
	t.Helper()
	e, err := envelope.New(typ, "trace-1", uuid.NewString(), json.RawMessage(payload))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestParseRecord(t *testing.T) {
	upper := newJobCreated(t, jobOpts{})
	upper.JobID, upper.EventID = strings.ToUpper(upper.JobID), strings.ToUpper(upper.EventID)
	tests := []struct {
		name      string
		rec       events.KafkaRecord
		wantKind  string // "created", "result" or "" for poison
		wantError string
	}{
		{"job created", lambdaRecord(newJobCreated(t, jobOpts{})), "created", ""},
		{"upper-case IDs are canonicalized", lambdaRecord(upper), "created", ""},
		{"job completed", lambdaRecord(newResult(t, uuid.NewString(), 1, "", false)), "result", ""},
		{"job failed", lambdaRecord(newResult(t, uuid.NewString(), 2, "boom", false)), "result", ""},
		{"value not base64", events.KafkaRecord{Value: "!!!"}, "", "base64"},
		{"value not JSON", rawRecord("not json"), "", "not a JSON envelope"},
		{"wrong version", rawRecord(`{"eventId":"` + uuid.NewString() + `","type":"JobCreated","version":9,"jobId":"` + uuid.NewString() + `","payload":{}}`), "", "version"},
		{"event type the scheduler does not consume", lambdaRecord(envWithPayload(t, envelope.TypeRunJob, `{"attempt":1}`)), "", "does not consume"},
		{"job created without type", lambdaRecord(envWithPayload(t, envelope.TypeJobCreated, `{"payload":{"steps":[]}}`)), "", "jobType"},
		{"job created without payload", lambdaRecord(envWithPayload(t, envelope.TypeJobCreated, `{"jobType":"SIMULATION"}`)), "", "payload"},
		{"job created with NUL in payload", lambdaRecord(envWithPayload(t, envelope.TypeJobCreated, `{"jobType":"SIMULATION","payload":{"m":"a\u0000b"}}`)), "", "\\u0000"},
		{"escaped backslash before u0000 is fine", lambdaRecord(envWithPayload(t, envelope.TypeJobCreated, `{"jobType":"SIMULATION","payload":{"m":"a\\u0000b"}}`)), "created", ""},
		{"negative retries", lambdaRecord(envWithPayload(t, envelope.TypeJobCreated, `{"jobType":"SIMULATION","payload":{},"maxRetryCount":-1}`)), "", "maxRetryCount"},
		{"payload of the wrong shape", lambdaRecord(envWithPayload(t, envelope.TypeJobFailed, `{"attempt":"one"}`)), "", "payload"},
		{"result without attempt", lambdaRecord(envWithPayload(t, envelope.TypeJobCompleted, `{"durationMs":5}`)), "", "attempt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := parseRecord(tt.rec)
			if tt.wantKind == "" {
				if !errors.Is(err, envelope.ErrInvalid) || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			kind := "result"
			if in.Created != nil {
				kind = "created"
			}
			if kind != tt.wantKind {
				t.Fatalf("kind = %s, want %s", kind, tt.wantKind)
			}
			if uuid.MustParse(in.Env.JobID).String() != in.Env.JobID || uuid.MustParse(in.Env.EventID).String() != in.Env.EventID {
				t.Fatalf("IDs not canonical: %s %s", in.Env.JobID, in.Env.EventID)
			}
		})
	}
}

func TestPoisonDeadLetterCarriesSource(t *testing.T) {
	rec := rawRecord("garbage")
	id := uuid.NewString()
	rec.Key = base64.StdEncoding.EncodeToString([]byte(id))
	rec.Headers = []map[string]events.JSONNumberBytes{{"traceId": events.JSONNumberBytes("trace-p")}}
	_, cause := parseRecord(rec)
	e, err := poisonDeadLetter(rec, cause, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if e.Type != envelope.TypeJobDeadLetter || e.JobID != id || e.TraceID != "trace-p" {
		t.Fatalf("envelope = %+v", e)
	}
	var dl envelope.JobDeadLetter
	if err := e.DecodePayload(&dl); err != nil {
		t.Fatal(err)
	}
	if dl.Reason != ReasonPoisonRecord || dl.Source == nil || *dl.Source != (envelope.PoisonSource{
		Topic: envelope.TopicJobCreated, Partition: 2, Offset: 9, Value: rec.Value}) || dl.LastError == "" {
		t.Fatalf("dead letter = %+v (source %+v)", dl, dl.Source)
	}
}

// FuzzParseRecord: any record either parses into a storable job or result,
// or is poison (ErrInvalid); it never panics or fails otherwise.
func FuzzParseRecord(f *testing.F) {
	f.Add("garbage")
	f.Add(`{"eventId":"5d1c6f0e-0f5e-4c4b-9d5e-1b2c3d4e5f60","type":"JobCreated","version":1,"traceId":"t","jobId":"6d1c6f0e-0f5e-4c4b-9d5e-1b2c3d4e5f60","payload":{"jobType":"SIMULATION","payload":{"steps":[]},"maxRetryCount":1}}`)
	f.Add(`{"eventId":"5d1c6f0e-0f5e-4c4b-9d5e-1b2c3d4e5f60","type":"JobFailed","version":1,"traceId":"t","jobId":"6d1c6f0e-0f5e-4c4b-9d5e-1b2c3d4e5f60","payload":{"attempt":2,"error":"x"}}`)
	f.Fuzz(func(t *testing.T, value string) {
		in, err := parseRecord(rawRecord(value))
		if err != nil {
			if !errors.Is(err, envelope.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		switch {
		case in.Created != nil:
			if err := checkSpec(in.Created.JobSpec); err != nil {
				t.Fatalf("accepted a job Postgres cannot store: %v", err)
			}
		case in.Result != nil:
			if in.Result.Attempt < 1 {
				t.Fatal("accepted a result without attempt")
			}
		default:
			t.Fatal("parsed to nothing")
		}
	})
}
