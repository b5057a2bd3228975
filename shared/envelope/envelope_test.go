package envelope_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/envelope"
)

// <, > and & travel as they are, in strings and in raw payloads: the
// event of a job is the size of what was submitted, not six times it.
func TestEventsAreNotHTMLEscaped(t *testing.T) {
	t.Parallel()
	msg := strings.Repeat("<>&", 100)
	payload := json.RawMessage(`{"steps":[{"action":"LOG","message":"` + msg + `"}]}`)
	e, err := envelope.New(envelope.TypeJobFailed, "t", "7b0c0c5e-4d0f-4e0f-9a47-0c9f4f1f2e3d",
		struct {
			Spec json.RawMessage `json:"spec"`
			Err  string          `json:"error"`
		}{payload, msg})
	if err != nil {
		t.Fatal(err)
	}
	b := e.Marshal()
	if bytes.Contains(b, []byte(`\u003c`)) || bytes.Count(b, []byte(msg)) != 2 {
		t.Fatalf("encoded event escapes HTML: %s", b)
	}
	back, err := envelope.Decode(b)
	if err != nil || back.EventID != e.EventID {
		t.Fatalf("Decode = %+v, %v", back, err)
	}
}

func TestFitTrimsInOrderAndSaysWhat(t *testing.T) {
	t.Parallel()
	attempts := func(n, errBytes int) []envelope.AttemptSummary {
		var out []envelope.AttemptSummary
		for i := 1; i <= n; i++ {
			out = append(out, envelope.AttemptSummary{Attempt: i, Outcome: "FAILED", Error: strings.Repeat("\x01", errBytes)})
		}
		return out
	}
	payload := json.RawMessage(`{"steps":[{"action":"LOG","message":"` + strings.Repeat("x", 50_000) + `"}]}`)
	for _, c := range []struct {
		name        string
		dl          envelope.JobDeadLetter
		max         int
		wantCut     []int // attempts whose errors go
		wantPayload bool  // the payload goes
	}{
		{"fits already", envelope.JobDeadLetter{Attempts: attempts(3, 10)}, 10_000, nil, false},
		{"middle attempts first", envelope.JobDeadLetter{JobSpec: envelope.JobSpec{Payload: payload}, Attempts: attempts(5, 4096)},
			50_000 + 3*6*4096 + 1_000, []int{3, 2, 4}, false},
		{"then the payload", envelope.JobDeadLetter{JobSpec: envelope.JobSpec{Payload: payload}, Attempts: attempts(5, 4096)},
			2*6*4096 + 2_000, []int{3, 2, 4}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dl := c.dl
			if !dl.Fit(c.max) {
				t.Fatal("Fit = false")
			}
			b, _ := envelope.JSON(dl)
			if len(b) > c.max {
				t.Fatalf("%d bytes after Fit(%d)", len(b), c.max)
			}
			if c.wantCut == nil && !c.wantPayload {
				if dl.Trimmed != nil {
					t.Fatalf("trimmed = %+v; want nothing cut", dl.Trimmed)
				}
				return
			}
			if dl.Trimmed == nil || fmt.Sprint(dl.Trimmed.AttemptErrors) != fmt.Sprint(c.wantCut) ||
				(dl.Trimmed.PayloadBytes > 0) != c.wantPayload || dl.Trimmed.LimitBytes != c.max {
				t.Fatalf("trimmed = %+v; want attempts %v cut, payload cut %v", dl.Trimmed, c.wantCut, c.wantPayload)
			}
			if !bytes.Contains(b, []byte(`"trimmed":{`)) {
				t.Fatalf("no trimmed marker in %.200s", b)
			}
			if dl.Attempts[0].Error == "" || dl.Attempts[4].Error == "" {
				t.Fatal("the first and last attempts' errors were cut")
			}
		})
	}
}

// A run-job-sized event: JSON without HTML escaping against encoding/json.
func BenchmarkMarshal(b *testing.B) {
	payload := json.RawMessage(`{"steps":[` + strings.Repeat(`{"action":"LOG","message":"a message <of> some & length"},`, 9) + `{"action":"SLEEP","durationMs":10}]}`)
	e, err := envelope.New(envelope.TypeRunJob, "trace", "7b0c0c5e-4d0f-4e0f-9a47-0c9f4f1f2e3d", envelope.RunJob{JobSpec: envelope.JobSpec{JobType: "SIMULATION", Payload: payload}, Attempt: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("JSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = e.Marshal()
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(e)
		}
	})
}
