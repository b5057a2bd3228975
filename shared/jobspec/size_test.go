package jobspec_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/jobspec"
	"github.com/jobweaver/jobweaver/shared/kafka"
)

// body is a submission of n LOG steps whose message is msg (as written in
// JSON), then a FAIL step with it.
func body(n int, msg string, retries int) string {
	var steps []string
	for i := 0; i < n; i++ {
		steps = append(steps, `{"action":"LOG","message":"`+msg+`"}`)
	}
	steps = append(steps, `{"action":"FAIL","message":"`+msg+`"}`)
	return fmt.Sprintf(`{"jobType":"SIMULATION","maxRetryCount":%d,"payload":{"steps":[%s]}}`, retries, strings.Join(steps, ","))
}

func TestCheckSize(t *testing.T) {
	t.Parallel()
	lt := strings.Repeat("<", 4096)       // 4,096 bytes, as submitted and as carried
	ctl := strings.Repeat(`\u0001`, 4096) // 4,096 bytes decoded, 24,576 in JSON
	for _, c := range []struct {
		name    string
		body    string
		fits    bool
		payload int // about, in bytes
	}{
		// The wedge: 171 KB of '<', no retries.
		{"41 steps of 4,096 '<', no retries", body(41, lt, 0), true, 171_000},
		{"41 steps of 4,096 '<', 20 retries", body(41, lt, 20), true, 171_000},
		// 467 KB of payload: the dead letter with 21 attempts' errors
		// (26,036 bytes each at worst) would not fit; with 1 it does.
		{"18 escaped steps, 20 retries", body(18, ctl, 20), false, 467_000},
		{"18 escaped steps, no retries", body(18, ctl, 0), true, 467_000},
		{"99 escaped steps (2.4 MB)", body(99, ctl, 0), false, 2_440_000},
	} {
		t.Run(c.name, func(t *testing.T) {
			job, err := jobspec.Decode([]byte(c.body), jobspec.Default)
			if err != nil {
				t.Fatal(err)
			}
			s := job.EventSizes()
			if s.Payload < c.payload || s.Payload > c.payload*11/10 {
				t.Errorf("payload = %d bytes; want about %d", s.Payload, c.payload)
			}
			if s.LargestEvent != "job-dead-letter" || s.Limit != kafka.MaxEventBytes {
				t.Errorf("sizes = %+v", s)
			}
			err = job.CheckSize()
			var se *jobspec.SizeError
			if fits := !errors.As(err, &se); fits != c.fits {
				t.Fatalf("CheckSize = %v; want fits %v (sizes %+v)", err, c.fits, s)
			}
			if se != nil && (!strings.Contains(se.Error(), "1000000-byte limit") || !strings.Contains(se.Error(), "maxRetryCount")) {
				t.Errorf("message = %s", se.Error())
			}
		})
	}
}

// The payload bound covers what the events really carry: the compact
// payload as the api stores it, and the payload as Postgres jsonb gives
// it back (", " and ": ").
func TestPayloadBoundCoversJSONBSpacing(t *testing.T) {
	t.Parallel()
	job, err := jobspec.Decode([]byte(body(3, "a, b: <c>", 1)), jobspec.Default)
	if err != nil {
		t.Fatal(err)
	}
	p := job.PayloadJSON()
	if strings.Contains(string(p), `\u003c`) {
		t.Fatalf("stored payload is HTML-escaped: %s", p)
	}
	var v any
	if err := json.Unmarshal(p, &v); err != nil {
		t.Fatal(err)
	}
	// jsonb's output: a space after every separator outside strings.
	spaced := strings.NewReplacer(`":"`, `": "`, `","`, `", "`, `},{`, `}, {`).Replace(string(p))
	if got := job.EventSizes().Payload; got < len(spaced) {
		t.Fatalf("payload bound %d < %d, the spaced form", got, len(spaced))
	}
}
