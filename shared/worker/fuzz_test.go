package worker

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/jobspec"
	"github.com/jobweaver/jobweaver/shared/pgtext"
)

// decodeCases are records the decoder must classify; they seed the fuzzer.
var decodeCases = []struct {
	name   string
	value  string // the record value as delivered (normally base64)
	poison bool
	valid  bool // a RunJob whose steps parse
}{
	{"run-job", b64(runJobJSON(1, `{"steps":[{"action":"LOG","message":"hi"}]}`)), false, true},
	{"invalid steps", b64(runJobJSON(1, `{"steps":[{"action":"NOPE"}]}`)), false, false},
	{"no steps", b64(runJobJSON(1, `{"steps":[]}`)), false, false},
	{"payload not an object", b64(runJobJSON(1, `"steps"`)), false, false},
	{"attempt 0", b64(runJobJSON(0, `{"steps":[{"action":"LOG","message":"hi"}]}`)), true, false},
	{"attempt too large", b64(runJobJSON(1<<40, `{"steps":[{"action":"LOG","message":"hi"}]}`)), true, false},
	{"bad base64", "%%% not base64 %%%", true, false},
	{"empty", "", true, false},
	{"bad JSON", b64(`{"eventId": "not json`), true, false},
	{"JSON array", b64(`[1,2,3]`), true, false},
	{"wrong version", b64(`{"eventId":"` + uuid.NewString() + `","type":"RunJob","version":2,"jobId":"` + uuid.NewString() + `","payload":{}}`), true, false},
	{"wrong type", b64(`{"eventId":"` + uuid.NewString() + `","type":"JobCreated","version":1,"jobId":"` + uuid.NewString() + `","payload":{}}`), true, false},
	{"payload not RunJob", b64(`{"eventId":"` + uuid.NewString() + `","type":"RunJob","version":1,"jobId":"` + uuid.NewString() + `","payload":[1]}`), true, false},
	{"NUL in trace", b64(`{"eventId":"` + uuid.NewString() + `","type":"RunJob","version":1,"traceId":"a\u0000b","jobId":"` + uuid.NewString() + `","payload":{"attempt":1,"payload":{"steps":[{"action":"FAIL","message":"x\u0000y"}]}}}`), false, true},
	{"braced UUIDs", b64(`{"eventId":"{` + uuid.NewString() + `}","type":"RunJob","version":1,"jobId":"urn:uuid:` + uuid.NewString() + `","payload":{"attempt":1,"payload":{"steps":[{"action":"LOG","message":"x"}]}}}`), false, true},
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func runJobJSON(attempt int, payload string) string {
	e, err := envelope.New(envelope.TypeRunJob, "trace", uuid.NewString(), envelope.RunJob{
		JobSpec: envelope.JobSpec{JobType: "SIMULATION", Payload: json.RawMessage(payload)},
		Attempt: attempt,
	})
	if err != nil {
		panic(err)
	}
	return string(e.Marshal())
}

func record(value string) events.KafkaRecord {
	return events.KafkaRecord{Topic: envelope.TopicRunJob, Partition: 3, Offset: 42, Value: value,
		Headers: []map[string]events.JSONNumberBytes{{"traceId": []byte("hdr-trace")}}}
}

func TestDecodeRecordCases(t *testing.T) {
	for _, c := range decodeCases {
		t.Run(c.name, func(t *testing.T) {
			tk := decodeRecord(record(c.value), jobspec.Default)
			checkTask(t, tk)
			if (tk.poison != nil) != c.poison {
				t.Fatalf("poison = %v, want %v", tk.poison, c.poison)
			}
			if !c.poison && (tk.invalid == nil) != c.valid {
				t.Fatalf("invalid = %v, want valid=%v", tk.invalid, c.valid)
			}
		})
	}
}

// FuzzDecodeRecord feeds arbitrary record values through the decoder: it
// must never panic, and every record is either a RunJob to run (whose
// steps parse or are reported invalid) or poison with a well-formed,
// deterministic dead letter.
func FuzzDecodeRecord(f *testing.F) {
	for _, c := range decodeCases {
		if raw, err := base64.StdEncoding.DecodeString(c.value); err == nil {
			f.Add(raw, true)
		} else {
			f.Add([]byte(c.value), false)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, encode bool) {
		value := string(data)
		if encode {
			value = base64.StdEncoding.EncodeToString(data)
		}
		checkTask(t, decodeRecord(record(value), jobspec.Default))
	})
}

func checkTask(t *testing.T, tk *task) {
	t.Helper()
	if tk.poison != nil {
		if !errors.Is(tk.poison, envelope.ErrInvalid) {
			t.Fatalf("poison error %v does not wrap envelope.ErrInvalid", tk.poison)
		}
		dl := tk.deadLetter(time.Now())
		if dl.EventID != PoisonEventID(envelope.TopicRunJob, 3, 42) {
			t.Fatalf("dead letter ID %s is not derived from the record's position", dl.EventID)
		}
		// The dlq must be able to read what we write.
		back, err := envelope.Decode(dl.Marshal())
		if err != nil {
			t.Fatalf("dead letter does not decode: %v", err)
		}
		var p envelope.JobDeadLetter
		if err := back.DecodePayload(&p); err != nil || p.Reason != "POISON_RECORD" || p.Source == nil || p.Source.Offset != 42 {
			t.Fatalf("dead letter payload %+v, %v", p, err)
		}
		if back.JobID != "" && uuid.Validate(back.JobID) != nil {
			t.Fatalf("dead letter job ID %q", back.JobID)
		}
		return
	}
	if tk.job.Attempt < 1 || tk.eventID == "" || tk.jobID == "" {
		t.Fatalf("run task without attempt or IDs: %+v", tk)
	}
	if _, err := uuid.Parse(tk.eventID); err != nil || uuid.MustParse(tk.eventID).String() != tk.eventID {
		t.Fatalf("event ID %q is not canonical", tk.eventID)
	}
	if (tk.invalid == nil) == (len(tk.steps) == 0) {
		t.Fatalf("a run task has steps xor an invalid-steps error: %d steps, %v", len(tk.steps), tk.invalid)
	}
	if pgtext.Clean(tk.traceID, -1) != tk.traceID {
		t.Fatalf("trace ID %q is not clean", tk.traceID)
	}
}
