package poison_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/poison"
)

func TestDeadLetter(t *testing.T) {
	t.Parallel()
	key := uuid.NewString()
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	cause := errors.New("invalid event: not a JSON envelope")
	for _, c := range []struct {
		name      string
		rec       events.KafkaRecord
		wantJob   string
		wantTrace string // "" means the event ID
		trimmed   bool
	}{
		{"garbage with key and trace header", events.KafkaRecord{Topic: "job-created", Partition: 2, Offset: 9,
			Key: base64.StdEncoding.EncodeToString([]byte(key)), Value: base64.StdEncoding.EncodeToString([]byte("{")),
			Headers: []map[string]events.JSONNumberBytes{{"traceId": events.JSONNumberBytes("trace-h")}}}, key, "trace-h", false},
		{"not base64, nothing else", events.KafkaRecord{Topic: "run-job", Offset: 1, Value: "%%%"}, "", "", false},
		{"a value too big to carry whole", events.KafkaRecord{Topic: "job-failed", Offset: 3,
			Value: strings.Repeat("QUJD", kafka.MaxEventBytes/4+10)}, "", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, dl := poison.DeadLetter(c.rec, cause, "TEST.POISON_RECORD", now)
			again, _ := poison.DeadLetter(c.rec, cause, "TEST.POISON_RECORD", now)
			want := poison.EventID(c.rec.Topic, c.rec.Partition, c.rec.Offset)
			if e.EventID != want || again.EventID != want || string(e.Marshal()) != string(again.Marshal()) {
				t.Fatalf("event ID %s / %s; want %s, and the same event twice", e.EventID, again.EventID, want)
			}
			if c.wantTrace == "" {
				c.wantTrace = want
			}
			if e.JobID != c.wantJob || e.TraceID != c.wantTrace || e.Type != envelope.TypeJobDeadLetter {
				t.Errorf("envelope = %s job %q trace %q", e.Type, e.JobID, e.TraceID)
			}
			if n := len(e.Marshal()); n > kafka.MaxEventBytes {
				t.Errorf("dead letter is %d bytes, over %d", n, kafka.MaxEventBytes)
			}
			if dl.Reason != poison.Reason || dl.ErrorCode != "TEST.POISON_RECORD" || dl.LastError != cause.Error() || dl.Source == nil {
				t.Fatalf("dead letter = %+v", dl)
			}
			if got := dl.Trimmed != nil; got != c.trimmed {
				t.Fatalf("trimmed = %+v; want %v", dl.Trimmed, c.trimmed)
			}
			if c.trimmed {
				if dl.Trimmed.SourceValueBytes == 0 || len(dl.Source.Value)+dl.Trimmed.SourceValueBytes != len(c.rec.Value) {
					t.Errorf("trimmed %+v, value kept %d of %d", dl.Trimmed, len(dl.Source.Value), len(c.rec.Value))
				}
			} else if dl.Source.Value != c.rec.Value {
				t.Errorf("source value = %q; want %q", dl.Source.Value, c.rec.Value)
			}
		})
	}
}
