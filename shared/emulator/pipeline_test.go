package emulator

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/jobweaver/jobweaver/shared/stacktest"
)

// outcome is what a scenario leaves behind, in terms that do not depend
// on IDs or timing, so that two stacks can be compared.
type outcome struct {
	Status        string
	Attempts      int
	LastErrorCode string
	Executions    []string // per attempt: status [action:status ...] errorCode
	DeadLetter    string   // reason, attempts and their error codes; "" if none
	Listed        int      // GET /api/jobs?traceId=… totalElements
	TargetHits    int      // HTTP_CALL requests received
	SameID        bool     // a repeated Idempotency-Key gave the same job
}

type scenario struct {
	name     string
	steps    string // {{target}} is the HTTP_CALL target's URL
	maxRetry int
	final    string
	repeat   bool // submit twice with one Idempotency-Key
}

// The in-process e2e flows (shared/e2e), each as one scenario.
var scenarios = []scenario{
	{name: "completes", final: "COMPLETED", maxRetry: 2,
		steps: `{"action":"LOG","message":"start"},{"action":"SLEEP","durationMs":20},{"action":"COMPUTE","iterations":10000},` +
			`{"action":"HTTP_CALL","url":"{{target}}"},{"action":"HTTP_CALL","latencyMs":5},{"action":"LOG","message":"done"}`},
	{name: "retries-then-dead-letters", final: "FAILED", maxRetry: 2,
		steps: `{"action":"LOG","message":"about to fail"},{"action":"FAIL","message":"simulated crash"}`},
	{name: "zero-retries-dead-letters", final: "FAILED", maxRetry: 0,
		steps: `{"action":"FAIL","message":"immediate failure"}`},
	{name: "fails-twice-then-succeeds", final: "COMPLETED", maxRetry: 3,
		steps: `{"action":"FAIL","message":"flaky","failTimes":2},{"action":"LOG","message":"ok"}`},
	{name: "idempotency-key", final: "COMPLETED", maxRetry: 0, repeat: true,
		steps: `{"action":"LOG","message":"once"}`},
}

// runScenarios runs every scenario at once on s and returns the outcomes.
func runScenarios(t *testing.T, s *stack) map[string]outcome {
	t.Helper()
	out := map[string]outcome{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, sc := range scenarios {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := runScenario(t, s, sc)
			mu.Lock()
			out[sc.name] = o
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func runScenario(t *testing.T, s *stack, sc scenario) outcome {
	hits := &counter{}
	target := httptest.NewServer(hits)
	defer target.Close()
	trace := fmt.Sprintf("trace-%s-%s", sc.name, s.Prefix)
	body := stacktest.JobJSON(strings.ReplaceAll(sc.steps, "{{target}}", target.URL), sc.maxRetry)
	headers := []string{"X-Trace-Id", trace}
	if sc.repeat {
		headers = append(headers, "Idempotency-Key", "key-"+trace)
	}
	id := s.Submit(t, body, headers...)
	var o outcome
	if sc.repeat {
		o.SameID = s.Submit(t, body, headers...) == id
	}
	job := s.WaitStatus(t, id, sc.final)
	o.Status = job["status"].(string)
	o.Attempts = int(job["attempts"].(float64))
	o.LastErrorCode, _ = job["lastErrorCode"].(string)

	ex := s.Do(t, http.MethodGet, "/api/jobs/"+id+"/executions", "").JSON(t)
	var atts []map[string]any
	for _, a := range ex["content"].([]any) {
		atts = append(atts, a.(map[string]any))
	}
	sort.Slice(atts, func(i, j int) bool { return atts[i]["attempt"].(float64) < atts[j]["attempt"].(float64) })
	for _, a := range atts {
		var steps []string
		for _, st := range a["steps"].([]any) {
			st := st.(map[string]any)
			steps = append(steps, fmt.Sprintf("%v:%v", st["action"], st["status"]))
		}
		code, _ := a["errorCode"].(string)
		o.Executions = append(o.Executions, fmt.Sprintf("%v %v %s", a["status"], steps, code))
	}
	if o.Status == "FAILED" {
		e := s.WaitDeadLetter(t, "job "+id, func(e map[string]any) bool { return e["jobId"] == id })
		var codes []string
		for _, a := range e["attempts"].([]any) {
			a := a.(map[string]any)
			if a["error"] == nil || a["error"] == "" || a["dispatchedAt"] == nil {
				t.Errorf("%s: dead letter attempt lacks error or timing: %v", sc.name, a)
			}
			c, _ := a["errorCode"].(string)
			codes = append(codes, c)
		}
		o.DeadLetter = fmt.Sprintf("%v x%d %v", e["reason"], len(codes), codes)
	}
	list := s.Do(t, http.MethodGet, "/api/jobs?traceId="+trace, "").JSON(t)
	o.Listed = int(list["totalElements"].(float64))
	o.TargetHits = int(hits.n.Load())
	return o
}

// The whole platform under the Lambda Runtime Interface Emulator, driven
// only through the Lambda Invoke API (HTTP fronts, event-source mappings
// and the schedule all invoke the emulated functions, and the api reaches
// the others through invoke.Lambda), gives the same results as the
// in-process stack; then the cases only a real runtime shows.
func TestPipelineUnderTheEmulator(t *testing.T) {
	local := startStack(t, false, nil, nil)
	want := runScenarios(t, local)
	local.Close()

	s := startStack(t, true, nil, nil)
	got := runScenarios(t, s)
	for _, sc := range scenarios {
		t.Logf("%-26s %+v", sc.name, got[sc.name])
		if !reflect.DeepEqual(got[sc.name], want[sc.name]) {
			t.Errorf("%s under the emulator:\n  %+v\nin-process:\n  %+v", sc.name, got[sc.name], want[sc.name])
		}
	}
	// Sanity: the outcomes are the expected ones, not merely equal.
	checks := map[string]func(o outcome) bool{
		"completes": func(o outcome) bool {
			return o.Attempts == 1 && o.TargetHits == 1 && len(o.Executions) == 1 && strings.Count(o.Executions[0], ":SUCCEEDED") == 6
		},
		"retries-then-dead-letters": func(o outcome) bool {
			return o.Attempts == 3 && len(o.Executions) == 3 && strings.HasPrefix(o.DeadLetter, "RETRIES_EXHAUSTED x3")
		},
		"zero-retries-dead-letters": func(o outcome) bool {
			return o.Attempts == 1 && strings.HasPrefix(o.DeadLetter, "RETRIES_EXHAUSTED x1")
		},
		"fails-twice-then-succeeds": func(o outcome) bool { return o.Attempts == 3 && o.DeadLetter == "" },
		"idempotency-key":           func(o outcome) bool { return o.SameID && o.Listed == 1 },
	}
	for name, ok := range checks {
		if !ok(got[name]) {
			t.Errorf("%s: unexpected outcome %+v", name, got[name])
		}
	}
	if t.Failed() {
		return
	}
	// Every trigger went through the Invoke API.
	for _, fn := range Functions {
		if n := len(s.cluster.Invocations(fn)); n == 0 {
			t.Errorf("%s was never invoked through the emulator", fn)
		}
	}

	t.Run("bad trigger events", func(t *testing.T) { badEvents(t, s) })
	t.Run("poison records from Kafka", func(t *testing.T) { poisonRecords(t, s) })
	t.Run("a failing batch is retried until it passes", func(t *testing.T) { databaseOutage(t, s) })
	t.Run("large jobs list", func(t *testing.T) { largeJobsList(t, s) })
}
