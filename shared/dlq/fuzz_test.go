package dlq

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
)

var decodeSeeds = []string{
	`{"eventId":"` + uuid.NewString() + `","type":"JobDeadLetter","version":1,"traceId":"t","jobId":"` + uuid.NewString() + `","payload":{"jobType":"SIMULATION","payload":{"steps":[]},"maxRetryCount":1,"reason":"RETRIES_EXHAUSTED","attempts":[{"attempt":1,"outcome":"FAILED"}],"failedAt":"2026-01-01T00:00:00Z"}}`,
	`{"eventId":"` + uuid.NewString() + `","type":"JobDeadLetter","version":1,"jobId":"","payload":{"reason":"POISON_RECORD","source":{"topic":"run-job","partition":1,"offset":2,"value":"eA=="}}}`,
	`{"eventId":"` + uuid.NewString() + `","type":"JobDeadLetter","version":1,"jobId":"not-a-uuid","payload":{"payload":{"a\u0000":"\ud800"},"lastError":"\u0000"}}`,
	`{"eventId":"` + uuid.NewString() + `","type":"RunJob","version":1,"jobId":"` + uuid.NewString() + `","payload":{}}`,
	`{"eventId":"x","type":"JobDeadLetter","version":1,"payload":{}}`,
	`{"eventId":"` + uuid.NewString() + `","type":"JobDeadLetter","version":1,"payload":[]}`,
	`{"version":2}`,
	`not json`,
	``,
}

// FuzzDecodeRecord checks that any record value becomes a storable row:
// a UUID key, a reason, clean text and valid JSON.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s), true)
	}
	f.Add([]byte("%%% not base64"), false)
	f.Fuzz(func(t *testing.T, data []byte, encode bool) {
		value := string(data)
		if encode {
			value = base64.StdEncoding.EncodeToString(data)
		}
		rec := events.KafkaRecord{Topic: "job-dead-letter", Partition: 2, Offset: 7, Value: value}
		r := decodeRecord(rec, time.Now())
		if id, err := uuid.Parse(r.eventID); err != nil || id.String() != r.eventID {
			t.Fatalf("event ID %q", r.eventID)
		}
		if r.jobID != "" && uuid.MustParse(r.jobID).String() != r.jobID {
			t.Fatalf("job ID %q", r.jobID)
		}
		if r.reason == "" {
			t.Fatal("no reason")
		}
		if r.reason == ReasonPoisonRecord && r.errorCode == CodePoisonRecord && r.eventID != PoisonEventID("job-dead-letter", 2, 7) {
			t.Fatalf("poison ID %s not derived from the position", r.eventID)
		}
		for _, s := range []string{r.traceID, r.jobType, r.reason, r.errorCode, r.lastError} {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				t.Fatalf("unclean text %q", s)
			}
		}
		for _, j := range [][]byte{r.job, r.attempts, r.source} {
			if j != nil && (!json.Valid(j) || strings.Contains(strings.ReplaceAll(string(j), `\\`, ""), `\u0000`)) {
				t.Fatalf("bad JSON %s", j)
			}
		}
	})
}
