package faults

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/faulttest"
	"github.com/jobweaver/jobweaver/shared/stacktest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// lt is 4,096 '<': 4 KB in a body, 24 KB once a JSON encoder that
// escapes HTML writes it as \u003c.
var lt = strings.Repeat("<", 4096)

// hostile are request bodies a hostile client sends. Each is answered
// with a structured 4xx, or accepted and then run to an end (want, if
// set, says which). None wedges the platform.
var hostile = []struct {
	name, path, body string
	want             string // for an accepted job: COMPLETED or FAILED; "" means either
}{
	{"oversize once encoded: a dead letter of 41 messages of 4,096 '<'", "/api/jobs",
		stacktest.JobJSON(`{"action":"FAIL","message":"`+lt+`"},`+strings.Repeat(`{"action":"LOG","message":"`+lt+`"},`, 40)+`{"action":"LOG","message":"end"}`, 0), "FAILED"},
	{"oversize once encoded: 62 LOG steps of 4,096 '<' (256 KB)", "/api/jobs",
		stacktest.JobJSON(strings.TrimSuffix(strings.Repeat(`{"action":"LOG","message":"`+lt+`"},`, 62), ","), 0), "COMPLETED"},
	{"oversize once encoded: a batch of 20 jobs of 3 such steps", "/api/jobs/batch",
		`{"jobs":[` + strings.TrimSuffix(strings.Repeat(stacktest.JobJSON(strings.TrimSuffix(strings.Repeat(`{"action":"LOG","message":"`+lt[:3000]+`"},`, 3), ","), 0)+",", 20), ",") + `]}`, "COMPLETED"},
	{"deeply nested payload", "/api/jobs",
		`{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"x"}],"extra":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `},"maxRetryCount":0}`, ""},
	{"deeply nested body", "/api/jobs", strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000), ""},
	{"invalid UTF-8 in a message", "/api/jobs", stacktest.JobJSON(`{"action":"LOG","message":"a`+"\xff\xfe"+`b"}`, 0), ""},
	{"invalid UTF-8 in a key", "/api/jobs", `{"jobType":"SIMULATION","pay` + "\xc3\x28" + `load":{"steps":[{"action":"LOG","message":"m"}]},"maxRetryCount":0}`, ""},
	{"NUL escaped in a message", "/api/jobs", stacktest.JobJSON(`{"action":"LOG","message":"a\u0000b"}`, 0), ""},
	{"NUL escaped in the job type", "/api/jobs", `{"jobType":"SIM\u0000","payload":{"steps":[{"action":"LOG","message":"m"}]},"maxRetryCount":0}`, ""},
	{"raw NUL byte", "/api/jobs", stacktest.JobJSON(`{"action":"LOG","message":"a`+"\x00"+`b"}`, 0), ""},
	{"huge maxRetryCount", "/api/jobs", `{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"m"}]},"maxRetryCount":99999999999999999999999}`, ""},
	{"huge durationMs", "/api/jobs", stacktest.JobJSON(`{"action":"SLEEP","durationMs":1e400}`, 0), ""},
	{"huge iterations", "/api/jobs", stacktest.JobJSON(`{"action":"COMPUTE","iterations":1.7976931348623157e308}`, 0), ""},
	{"negative zero and exponents", "/api/jobs", stacktest.JobJSON(`{"action":"SLEEP","durationMs":-0e0}`, 0), ""},
	{"a 1,000-digit number", "/api/jobs", stacktest.JobJSON(`{"action":"SLEEP","durationMs":`+strings.Repeat("9", 1000)+`}`, 0), ""},
	{"duplicate keys", "/api/jobs", `{"jobType":"SIMULATION","jobType":"OTHER","payload":{"steps":[{"action":"LOG","message":"m"}]},"maxRetryCount":0}`, ""},
	{"duplicate keys in a step", "/api/jobs", stacktest.JobJSON(`{"action":"LOG","message":"a","message":"b"}`, 0), ""},
	{"trailing data on a batch", "/api/jobs/batch", `{"jobs":[` + stacktest.JobJSON(`{"action":"LOG","message":"m"}`, 0) + `]}}`, ""},
	{"trailing data on a job", "/api/jobs", stacktest.JobJSON(`{"action":"LOG","message":"m"}`, 0) + ` {}`, ""},
	{"two documents", "/api/jobs", stacktest.JobJSON(`{"action":"LOG","message":"m"}`, 0) + stacktest.JobJSON(`{"action":"LOG","message":"m"}`, 0), ""},
	{"a bare string", "/api/jobs", `"SIMULATION"`, ""},
	{"empty body", "/api/jobs", ``, ""},
	{"over the body limit", "/api/jobs", stacktest.JobJSON(`{"action":"LOG","message":"`+strings.Repeat("x", 300_000)+`"}`, 0), ""},
}

// Hostile bodies: fuzzed, oversize once encoded, deeply nested, invalid
// UTF-8, NUL bytes, huge numbers, duplicate keys and trailing data. Each
// is a structured 4xx naming what is wrong, or a job that completes or
// dead-letters; after them all, the platform still runs a job at once.
func TestHostileBodies(t *testing.T) {
	fuzzed := faulttest.Pick(150, 2000)
	s := startStack(t, "hostile", nil)
	d := faulttest.OpenDBs(t, s.Admin, s.Prefix, s.Brokers)
	began := time.Now()

	var accepted []faulttest.Job
	answers := map[int]int{}
	send := func(name, path, body, want string) {
		t.Helper()
		r := s.Do(t, http.MethodPost, path, body)
		answers[r.Status]++
		switch {
		case r.Status == http.StatusAccepted:
			for _, id := range acceptedIDs(t, r) {
				k := faulttest.Kind{Name: name, Status: want, NoCall: true}
				accepted = append(accepted, faulttest.Job{ID: id, Token: name, Kind: k})
			}
		case r.Status >= 400 && r.Status < 500:
			if problem := structured(r); problem != "" {
				t.Errorf("%s: %d is not a structured error (%s): %.300s", name, r.Status, problem, r.Body)
			}
		default:
			t.Errorf("%s: %d %.300s; want 202 or a structured 4xx", name, r.Status, r.Body)
		}
	}
	for _, h := range hostile {
		send(h.name, h.path, h.body, h.want)
	}
	// Fuzzed: a valid body with bytes flipped, inserted, removed or
	// repeated, from a fixed seed.
	base := []byte(`{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"fuzz <&> é"},{"action":"LOG","message":"two"}]},"maxRetryCount":0}`)
	rnd := rand.New(rand.NewPCG(8, 8))
	for i := 0; i < fuzzed; i++ {
		send(fmt.Sprintf("fuzzed #%d", i), "/api/jobs", string(mutate(rnd, base)), "")
	}

	faulttest.Logf(t, "%d hostile and %d fuzzed bodies: answers %v; %d jobs accepted", len(hostile), fuzzed, answers, len(accepted))
	// Every accepted job ends, the platform still serves, and nothing is
	// left in flight.
	sentinel := faulttest.Job{ID: s.Submit(t, stacktest.JobJSON(`{"action":"LOG","message":"after the hostile bodies"}`, 0)),
		Token: "sentinel", Kind: faulttest.Kind{Name: "sentinel", Status: "COMPLETED", Attempts: 1, NoCall: true}}
	all := append(accepted, sentinel)
	var ended int
	testwait.EventuallyState(t, stacktest.Bound, fmt.Sprintf("all %d accepted jobs (the sentinel last) end", len(all)), func() bool {
		ended = d.Terminal(t, all)
		return ended >= len(all)
	}, func() string {
		return fmt.Sprintf("%d of %d never ended: the platform is wedged%s", len(all)-ended, len(all), d.Describe(t, all))
	})
	statuses := map[string]int{}
	for i := range all {
		j := &all[i]
		var st string
		var attempts int
		if err := d.Pool("scheduler").QueryRow(t.Context(), `SELECT status, attempts FROM jobs WHERE id = $1::uuid`, j.ID).Scan(&st, &attempts); err != nil {
			t.Fatal(err)
		}
		statuses[st]++
		if j.Kind.Status != "" && st != j.Kind.Status {
			t.Errorf("%s: job %s is %s, want %s", j.Kind.Name, j.ID, st, j.Kind.Status)
		}
		j.Kind.Status, j.Kind.Attempts, j.Kind.DeadLetter = st, attempts, st == "FAILED"
	}
	faulttest.Settle(t, d, s.Brokers, all, faulttest.Bound)
	faulttest.Check(t, d, nil, all, faulttest.Tolerance{})
	faulttest.Logf(t, "the %d accepted jobs and the one after them ended %v; %s", len(accepted), statuses, faulttest.Since(began))
}

// inserts are the bytes mutate inserts.
const inserts = "{}[]\",:\\0e-\x00\xff<"

// mutate returns a copy of b with one to four random edits.
func mutate(rnd *rand.Rand, b []byte) []byte {
	out := append([]byte(nil), b...)
	for range 1 + rnd.IntN(4) {
		if len(out) == 0 {
			out = append(out, '{')
		}
		i := rnd.IntN(len(out))
		switch rnd.IntN(5) {
		case 0: // flip a byte
			out[i] = byte(rnd.IntN(256))
		case 1: // insert one
			out = append(out[:i], append([]byte{inserts[rnd.IntN(len(inserts))]}, out[i:]...)...)
		case 2: // remove one
			out = append(out[:i], out[i+1:]...)
		case 3: // repeat a span
			j := min(len(out), i+1+rnd.IntN(16))
			out = append(out[:j], append(append([]byte(nil), out[i:j]...), out[j:]...)...)
		case 4: // truncate
			out = out[:i]
		}
	}
	return out
}

// acceptedIDs reads the job IDs of a 202: one job or a batch.
func acceptedIDs(t *testing.T, r stacktest.Response) []string {
	t.Helper()
	var v struct {
		JobID string `json:"jobId"`
		Jobs  []struct {
			JobID string `json:"jobId"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("202 body: %v: %.300s", err, r.Body)
	}
	if v.JobID != "" {
		return []string{v.JobID}
	}
	var ids []string
	for _, j := range v.Jobs {
		ids = append(ids, j.JobID)
	}
	return ids
}

// structured says what is wrong with an error answer ("" if nothing): it
// must be {timestamp, status, errorCode, message} with a namespaced code
// and the HTTP status.
func structured(r stacktest.Response) string {
	var e struct {
		Timestamp string `json:"timestamp"`
		Status    int    `json:"status"`
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
	}
	switch {
	case json.Unmarshal(r.Body, &e) != nil:
		return "not JSON"
	case e.Status != r.Status:
		return fmt.Sprintf("status %d in the body", e.Status)
	case !strings.Contains(e.ErrorCode, "."):
		return fmt.Sprintf("errorCode %q is not namespaced", e.ErrorCode)
	case e.Message == "" || e.Timestamp == "":
		return "no message or timestamp"
	}
	return ""
}
