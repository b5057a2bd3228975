// Package faulttest holds what the fault suite (shared/faults) needs to
// break a running local stack and then prove that nothing went wrong: a
// scale knob, a workload of jobs whose step side effects are counted, a
// view of the stack's four databases, the invariants every case checks,
// and a stack run as a child process that can be killed with SIGKILL.
//
// Only tests import it: it reaches the test Postgres server through
// pgtest and stacktest.
package faulttest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/stacktest"
)

// ScaleEnv selects the scale of the suite: "full" (make test-faults) or
// anything else, the reduced scale of make test.
const ScaleEnv = "FAULTS_SCALE"

// Full reports whether the suite runs at full scale.
func Full() bool { return strings.EqualFold(strings.TrimSpace(os.Getenv(ScaleEnv)), "full") }

// Pick returns full at full scale and reduced otherwise.
func Pick[T any](reduced, full T) T {
	if Full() {
		return full
	}
	return reduced
}

// Target is an HTTP server that counts the calls each job's HTTP_CALL
// step makes, by the token in its query string: one per attempt whose
// steps ran.
type Target struct {
	URL  string
	mu   sync.Mutex
	hits map[string]int
}

// NewTarget starts a Target, closed when the test ends.
func NewTarget(tb testing.TB) *Target {
	tb.Helper()
	t := &Target{hits: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.mu.Lock()
		t.hits[r.URL.Query().Get("token")]++
		t.mu.Unlock()
	}))
	tb.Cleanup(srv.Close)
	t.URL = srv.URL
	return t
}

// Hits returns how many calls carried token.
func (t *Target) Hits(token string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hits[token]
}

// Total returns every call so far.
func (t *Target) Total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, h := range t.hits {
		n += h
	}
	return n
}

// Kind is a shape of job and the one right way it ends.
type Kind struct {
	Name     string
	Steps    string // after the counted HTTP_CALL; %d is a duration in ms
	MaxRetry int
	Status   string // COMPLETED or FAILED
	Attempts int
	// DeadLetter: the job gives up and makes exactly one dead letter.
	DeadLetter bool
	// NoCall: the job has no counted HTTP_CALL step (its side effects are
	// not counted).
	NoCall bool
}

// Kinds are the workload's jobs: one that completes at once, one that
// fails once and then completes, one that fails every attempt and ends in
// the DLQ.
var Kinds = []Kind{
	{"ok", `{"action":"SLEEP","durationMs":%d}`, 1, "COMPLETED", 1, false, false},
	{"flaky", `{"action":"FAIL","message":"flaky","failTimes":1},{"action":"SLEEP","durationMs":%d}`, 2, "COMPLETED", 2, false, false},
	{"dead", `{"action":"SLEEP","durationMs":%d},{"action":"FAIL","message":"always"}`, 1, "FAILED", 2, true, false},
}

// Job is a submitted job of the workload.
type Job struct {
	ID, Token string
	Kind      Kind
}

// Submission is the body of the i-th job of a workload named name: an
// HTTP_CALL to target carrying its token, then its kind's steps, which
// sleep sleepMs (0: a few ms, varied).
func Submission(target *Target, name string, i int, sleepMs int) (body, token string, k Kind) {
	k = Kinds[i%len(Kinds)]
	token = fmt.Sprintf("%s-%d", name, i)
	if sleepMs <= 0 {
		sleepMs = 1 + i%7
	}
	steps := fmt.Sprintf(`{"action":"HTTP_CALL","url":"%s/?token=%s"},`, target.URL, token) + fmt.Sprintf(k.Steps, sleepMs)
	return stacktest.JobJSON(steps, k.MaxRetry), token, k
}

// Submit posts n jobs of the workload name to the API at apiURL through
// POST /api/jobs/batch, up to 500 per request, and returns them. Each
// job's token is name-i: names must differ between workloads on one
// Target.
func Submit(tb testing.TB, apiURL string, target *Target, name string, n, sleepMs int) []Job {
	tb.Helper()
	var jobs []Job
	for start := 0; start < n; start += 500 {
		end := min(n, start+500)
		bodies := make([]string, 0, end-start)
		batch := make([]Job, 0, end-start)
		for i := start; i < end; i++ {
			body, token, k := Submission(target, name, i, sleepMs)
			bodies = append(bodies, body)
			batch = append(batch, Job{Token: token, Kind: k})
		}
		// A 5xx (a fault on the way: a lost database session) is retried
		// under the same Idempotency-Key, as a client should: the jobs a
		// first try stored are not stored again.
		body := `{"jobs":[` + strings.Join(bodies, ",") + `]}`
		key := fmt.Sprintf("%s-%d", name, start)
		r := stacktest.Do(tb, apiURL, http.MethodPost, "/api/jobs/batch", body, "Idempotency-Key", key)
		for try := 0; r.Status >= 500 && try < 5; try++ {
			r = stacktest.Do(tb, apiURL, http.MethodPost, "/api/jobs/batch", body, "Idempotency-Key", key)
		}
		if r.Status != http.StatusAccepted {
			tb.Fatalf("POST /api/jobs/batch = %d %.300s", r.Status, r.Body)
		}
		ids := jobIDs(tb, r)
		if len(ids) != len(batch) {
			tb.Fatalf("POST /api/jobs/batch: %d IDs for %d jobs: %.300s", len(ids), len(batch), r.Body)
		}
		for i := range batch {
			batch[i].ID = ids[i]
		}
		jobs = append(jobs, batch...)
	}
	return jobs
}

// jobIDs reads the job IDs of a batch answer, in order.
func jobIDs(tb testing.TB, r stacktest.Response) []string {
	tb.Helper()
	m := r.JSON(tb)
	list, _ := m["jobs"].([]any)
	var ids []string
	for _, e := range list {
		o, _ := e.(map[string]any)
		id, _ := o["jobId"].(string)
		if id == "" {
			tb.Fatalf("batch answer entry without jobId: %v", e)
		}
		ids = append(ids, id)
	}
	return ids
}

// Bound limits every wait of the suite; a case that needs longer at full
// scale says so.
var Bound = Pick(2*time.Minute, 15*time.Minute)

// Logf logs a figure of the case, prefixed so that docs/reliability.md's
// figures can be picked out of go test -v.
func Logf(tb testing.TB, format string, args ...any) {
	tb.Helper()
	tb.Logf("FIGURE %s: %s", tb.Name(), fmt.Sprintf(format, args...))
}

// Since is a duration rounded for a log line.
func Since(t time.Time) string { return time.Since(t).Round(10 * time.Millisecond).String() }
