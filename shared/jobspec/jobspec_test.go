package jobspec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/jobspec"
	"github.com/jobweaver/jobweaver/shared/step"
)

// submit builds a body with steps and extra top-level members.
func submit(steps string, extra string) string {
	b := `{"jobType":"SIMULATION","payload":{"steps":[` + steps + `]}`
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

func nSteps(n int, s string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = s
	}
	return strings.Join(parts, ",")
}

type decodeCase struct {
	name string
	body string
	// want lists substrings that must each appear in some problem; empty
	// means the body is valid.
	want []string
	// retries is the expected MaxRetryCount of a valid body.
	retries int
}

var decodeCases = []decodeCase{
	// valid submissions
	{name: "collection example", body: `{
  "jobType": "SIMULATION",
  "payload": {
    "steps": [
      { "action": "LOG", "message": "Starting simulation" },
      { "action": "SLEEP", "durationMs": 2000 },
      { "action": "COMPUTE", "iterations": 100000 },
      { "action": "LOG", "message": "Simulation complete" }
    ]
  },
  "maxRetryCount": 3
}`, retries: 3},
	{name: "default maxRetryCount", body: submit(`{"action":"LOG","message":"x"}`, ""), retries: 3},
	{name: "maxRetryCount 0", body: submit(`{"action":"FAIL","message":"immediate failure"}`, `"maxRetryCount":0`), retries: 0},
	{name: "maxRetryCount 20", body: submit(`{"action":"FAIL"}`, `"maxRetryCount":20`), retries: 20},
	{name: "100 steps", body: submit(nSteps(100, `{"action":"LOG","message":"m"}`), ""), retries: 3},
	{name: "LOG empty message", body: submit(`{"action":"LOG","message":""}`, ""), retries: 3},
	{name: "LOG 4096 bytes", body: submit(`{"action":"LOG","message":"`+strings.Repeat("a", 4096)+`"}`, ""), retries: 3},
	{name: "SLEEP 0", body: submit(`{"action":"SLEEP","durationMs":0}`, ""), retries: 3},
	{name: "SLEEP max", body: submit(`{"action":"SLEEP","durationMs":300000}`, ""), retries: 3},
	{name: "COMPUTE bounds", body: submit(`{"action":"COMPUTE","iterations":1},{"action":"COMPUTE","iterations":100000000}`, ""), retries: 3},
	{name: "HTTP_CALL simulated", body: submit(`{"action":"HTTP_CALL","latencyMs":60000}`, ""), retries: 3},
	{name: "HTTP_CALL real https", body: submit(`{"action":"HTTP_CALL","url":"https://example.com/x?y=1","method":"POST","timeoutMs":30000}`, ""), retries: 3},
	{name: "HTTP_CALL real default method", body: submit(`{"action":"HTTP_CALL","url":"http://example.com"}`, ""), retries: 3},
	{name: "HTTP_CALL every method", body: submit(`{"action":"HTTP_CALL","url":"http://a.example","method":"GET"},{"action":"HTTP_CALL","url":"http://a.example","method":"HEAD"},{"action":"HTTP_CALL","url":"http://a.example","method":"PUT"},{"action":"HTTP_CALL","url":"http://a.example","method":"DELETE"}`, ""), retries: 3},
	{name: "FAIL with failTimes", body: submit(`{"action":"FAIL","message":"flaky","failTimes":20}`, ""), retries: 3},
	{name: "FAIL bare", body: submit(`{"action":"FAIL"}`, ""), retries: 3},
	{name: "simulated total exactly at cap", body: submit(`{"action":"SLEEP","durationMs":300000},{"action":"SLEEP","durationMs":300000}`, ""), retries: 3},
	{name: "trailing whitespace", body: submit(`{"action":"LOG","message":"x"}`, "") + " \n\t", retries: 3},

	// body shape
	{name: "empty body", body: ``, want: []string{"body is empty"}},
	{name: "whitespace body", body: "  \n", want: []string{"body is empty"}},
	{name: "not JSON", body: `jobType=SIMULATION`, want: []string{"not valid JSON"}},
	{name: "truncated", body: `{"jobType":"SIMULATION","payload":{"steps":[`, want: []string{"ends too early"}},
	{name: "array body", body: `[]`, want: []string{"body must be a JSON object"}},
	{name: "string body", body: `"x"`, want: []string{"body must be a JSON object"}},
	{name: "null body", body: `null`, want: []string{"jobType: is required", "payload: is required"}},
	{name: "empty object", body: `{}`, want: []string{"jobType: is required", "payload: is required"}},
	{name: "trailing object", body: submit(`{"action":"LOG","message":"x"}`, "") + `{}`, want: []string{"exactly one JSON object", "more data at byte"}},
	{name: "trailing garbage", body: submit(`{"action":"LOG","message":"x"}`, "") + `x`, want: []string{"exactly one JSON object"}},
	{name: "NUL in a message", body: submit(`{"action":"LOG","message":"a\u0000b"}`, ""), want: []string{`a NUL character (\u0000) at byte`, "without NUL"}},
	{name: "invalid UTF-8 in a message", body: submit("{\"action\":\"LOG\",\"message\":\"a\xffb\"}", ""), want: []string{"bytes that are not UTF-8 at byte"}},
	{name: "escaped backslash before u0000 is text", body: submit(`{"action":"LOG","message":"a\\u0000b"}`, ""), retries: 3},
	{name: "trailing brace", body: submit(`{"action":"LOG","message":"x"}`, "") + `}`, want: []string{"exactly one JSON object"}},
	{name: "trailing object after whitespace", body: submit(`{"action":"LOG","message":"x"}`, "") + "\n {}", want: []string{"exactly one JSON object"}},
	{name: "unknown top-level field", body: submit(`{"action":"LOG","message":"x"}`, `"priority":1`), want: []string{"priority: is not a field of a job submission"}},
	{name: "field name in another case", body: `{"JOBTYPE":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"x"}]}}`,
		want: []string{`JOBTYPE: is not a field of a job submission; field names are case-sensitive: "jobType"`}},
	{name: "field given twice", body: `{"jobType":"OTHER","jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"x"}]}}`,
		want: []string{"jobType: appears more than once"}},
	{name: "payload field in another case", body: `{"jobType":"SIMULATION","payload":{"Steps":[{"action":"LOG","message":"x"}]}}`,
		want: []string{`payload.Steps: is not a field of a job submission; field names are case-sensitive: "steps"`}},
	{name: "step field in another case", body: submit(`{"action":"LOG","Message":"x"}`, ""),
		want: []string{`payload.steps[0].Message: is not a field of this action; field names are case-sensitive: "message"`}},
	{name: "step field given twice", body: submit(`{"action":"SLEEP","durationMs":1,"durationMs":600001}`, ""),
		want: []string{"payload.steps[0].durationMs: appears more than once"}},
	{name: "unknown payload field", body: `{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"x"}],"cron":"*"}}`, want: []string{"cron: is not a field"}},

	// jobType
	{name: "jobType missing", body: `{"payload":{"steps":[{"action":"LOG","message":"x"}]}}`, want: []string{"jobType: is required; one of BATCH_PROCESS, DATA_PIPELINE, SIMULATION, WEBHOOK"}},
	{name: "jobType empty", body: `{"jobType":"","payload":{"steps":[{"action":"LOG","message":"x"}]}}`, want: []string{"jobType: is required"}},
	{name: "jobType unknown", body: `{"jobType":"BATCH","payload":{"steps":[{"action":"LOG","message":"x"}]}}`, want: []string{`jobType: unknown job type "BATCH"`}},
	{name: "jobType lower case", body: `{"jobType":"simulation","payload":{"steps":[{"action":"LOG","message":"x"}]}}`, want: []string{`unknown job type "simulation"`}},
	{name: "jobType number", body: `{"jobType":1,"payload":{"steps":[{"action":"LOG","message":"x"}]}}`, want: []string{"jobType: must be a string (got number)"}},

	// maxRetryCount
	{name: "maxRetryCount negative", body: submit(`{"action":"LOG","message":"x"}`, `"maxRetryCount":-1`), want: []string{"maxRetryCount: must be between 0 and 20 (got -1)"}},
	{name: "maxRetryCount 21", body: submit(`{"action":"LOG","message":"x"}`, `"maxRetryCount":21`), want: []string{"maxRetryCount: must be between 0 and 20 (got 21)"}},
	{name: "maxRetryCount fraction", body: submit(`{"action":"LOG","message":"x"}`, `"maxRetryCount":1.5`), want: []string{"maxRetryCount: must be an integer (got number 1.5)"}},
	{name: "maxRetryCount string", body: submit(`{"action":"LOG","message":"x"}`, `"maxRetryCount":"3"`), want: []string{"maxRetryCount: must be an integer (got string)"}},
	{name: "maxRetryCount huge", body: submit(`{"action":"LOG","message":"x"}`, `"maxRetryCount":1e40`), want: []string{"maxRetryCount: must be an integer"}},

	// payload and steps
	{name: "payload missing", body: `{"jobType":"SIMULATION"}`, want: []string{"payload: is required"}},
	{name: "payload null", body: `{"jobType":"SIMULATION","payload":null}`, want: []string{"payload: is required"}},
	{name: "payload string", body: `{"jobType":"SIMULATION","payload":"x"}`, want: []string{"payload: must be an object (got string)"}},
	{name: "steps missing", body: `{"jobType":"SIMULATION","payload":{}}`, want: []string{"payload.steps: must hold 1 to 100 steps"}},
	{name: "steps empty", body: submit(``, ""), want: []string{"payload.steps: must hold 1 to 100 steps"}},
	{name: "steps not an array", body: `{"jobType":"SIMULATION","payload":{"steps":{}}}`, want: []string{"payload.steps: must be an array (got object)"}},
	{name: "101 steps", body: submit(nSteps(101, `{"action":"LOG","message":"m"}`), ""), want: []string{"must hold 1 to 100 steps (got 101)"}},
	{name: "step not an object", body: submit(`42`, ""), want: []string{"payload.steps[0].action: step must be a JSON object"}},
	{name: "step null", body: submit(`null`, ""), want: []string{"payload.steps[0].action: is required"}},
	{name: "step without action", body: submit(`{"message":"x"}`, ""), want: []string{"payload.steps[0].action: is required; one of COMPUTE, FAIL, HTTP_CALL, LOG, SLEEP"}},
	{name: "unknown action", body: submit(`{"action":"EXPLODE"}`, ""), want: []string{`payload.steps[0].action: unknown action "EXPLODE"`}},
	{name: "action not a string", body: submit(`{"action":7}`, ""), want: []string{"payload.steps[0].action: must be a string (got number)"}},
	{name: "unknown step field", body: submit(`{"action":"LOG","message":"x","level":"debug"}`, ""), want: []string{"payload.steps[0].level: is not a field of this action"}},
	{name: "problems of several steps", body: submit(`{"action":"LOG","message":"ok"},{"action":"SLEEP"},{"action":"COMPUTE","iterations":0}`, ""),
		want: []string{"payload.steps[1].durationMs: is required", "payload.steps[2].iterations: must be between 1 and 100000000 (got 0)"}},

	// SLEEP
	{name: "SLEEP missing duration", body: submit(`{"action":"SLEEP"}`, ""), want: []string{"payload.steps[0].durationMs: is required"}},
	{name: "SLEEP negative", body: submit(`{"action":"SLEEP","durationMs":-1}`, ""), want: []string{"durationMs: must be between 0 and 300000 (got -1)"}},
	{name: "SLEEP over cap", body: submit(`{"action":"SLEEP","durationMs":300001}`, ""), want: []string{"durationMs: must be between 0 and 300000 (got 300001)"}},
	{name: "SLEEP string duration", body: submit(`{"action":"SLEEP","durationMs":"5"}`, ""), want: []string{"durationMs: must be an integer (got string)"}},
	{name: "SLEEP fraction", body: submit(`{"action":"SLEEP","durationMs":1.5}`, ""), want: []string{"durationMs: must be an integer (got number 1.5)"}},

	// COMPUTE
	{name: "COMPUTE missing iterations", body: submit(`{"action":"COMPUTE"}`, ""), want: []string{"iterations: is required"}},
	{name: "COMPUTE zero", body: submit(`{"action":"COMPUTE","iterations":0}`, ""), want: []string{"iterations: must be between 1 and 100000000 (got 0)"}},
	{name: "COMPUTE over cap", body: submit(`{"action":"COMPUTE","iterations":100000001}`, ""), want: []string{"iterations: must be between 1 and 100000000 (got 100000001)"}},

	// HTTP_CALL
	{name: "HTTP_CALL neither url nor latency", body: submit(`{"action":"HTTP_CALL"}`, ""), want: []string{"url: give url for a real request or latencyMs"}},
	{name: "HTTP_CALL latency over cap", body: submit(`{"action":"HTTP_CALL","latencyMs":60001}`, ""), want: []string{"latencyMs: must be between 0 and 60000 (got 60001)"}},
	{name: "HTTP_CALL negative latency", body: submit(`{"action":"HTTP_CALL","latencyMs":-5}`, ""), want: []string{"latencyMs: must be between 0 and 60000"}},
	{name: "HTTP_CALL timeout zero", body: submit(`{"action":"HTTP_CALL","url":"http://a.example","timeoutMs":0}`, ""), want: []string{"timeoutMs: must be between 1 and 30000 (got 0)"}},
	{name: "HTTP_CALL timeout over cap", body: submit(`{"action":"HTTP_CALL","url":"http://a.example","timeoutMs":30001}`, ""), want: []string{"timeoutMs: must be between 1 and 30000 (got 30001)"}},
	{name: "HTTP_CALL method without url", body: submit(`{"action":"HTTP_CALL","latencyMs":5,"method":"GET"}`, ""), want: []string{"method: method and timeoutMs need url"}},
	{name: "HTTP_CALL timeout without url", body: submit(`{"action":"HTTP_CALL","latencyMs":5,"timeoutMs":5}`, ""), want: []string{"method and timeoutMs need url"}},
	{name: "HTTP_CALL ftp scheme", body: submit(`{"action":"HTTP_CALL","url":"ftp://a.example/f"}`, ""), want: []string{`url: scheme must be http or https (got "ftp")`}},
	{name: "HTTP_CALL file scheme", body: submit(`{"action":"HTTP_CALL","url":"file:///etc/passwd"}`, ""), want: []string{"url: must be an absolute http or https URL"}},
	{name: "HTTP_CALL relative url", body: submit(`{"action":"HTTP_CALL","url":"/just/a/path"}`, ""), want: []string{"url: must be an absolute http or https URL"}},
	{name: "HTTP_CALL unparsable url", body: submit(`{"action":"HTTP_CALL","url":"http://[::1"}`, ""), want: []string{"url: must be an absolute http or https URL"}},
	{name: "HTTP_CALL credentials", body: submit(`{"action":"HTTP_CALL","url":"https://user:pw@a.example/"}`, ""), want: []string{"url: must not carry credentials"}},
	{name: "HTTP_CALL url too long", body: submit(`{"action":"HTTP_CALL","url":"https://a.example/`+strings.Repeat("p", 2048)+`"}`, ""), want: []string{"url: must be at most 2048 bytes"}},
	{name: "HTTP_CALL bad method", body: submit(`{"action":"HTTP_CALL","url":"http://a.example","method":"PATCH"}`, ""), want: []string{`method: must be GET, HEAD, POST, PUT or DELETE (got "PATCH")`}},
	{name: "HTTP_CALL lower-case method", body: submit(`{"action":"HTTP_CALL","url":"http://a.example","method":"get"}`, ""), want: []string{`(got "get")`}},
	{name: "HTTP_CALL url not a string", body: submit(`{"action":"HTTP_CALL","url":5}`, ""), want: []string{"url: must be a string (got number)"}},

	// LOG
	{name: "LOG missing message", body: submit(`{"action":"LOG"}`, ""), want: []string{"payload.steps[0].message: is required"}},
	{name: "LOG null message", body: submit(`{"action":"LOG","message":null}`, ""), want: []string{"message: is required"}},
	{name: "LOG message too long", body: submit(`{"action":"LOG","message":"`+strings.Repeat("a", 4097)+`"}`, ""), want: []string{"message: must be at most 4096 bytes"}},
	{name: "LOG message object", body: submit(`{"action":"LOG","message":{}}`, ""), want: []string{"message: must be a string (got object)"}},

	// FAIL
	{name: "FAIL failTimes negative", body: submit(`{"action":"FAIL","failTimes":-1}`, ""), want: []string{"failTimes: must be between 0 and 20 (got -1)"}},
	{name: "FAIL failTimes over cap", body: submit(`{"action":"FAIL","failTimes":21}`, ""), want: []string{"failTimes: must be between 0 and 20 (got 21)"}},
	{name: "FAIL message too long", body: submit(`{"action":"FAIL","message":"`+strings.Repeat("b", 4097)+`"}`, ""), want: []string{"message: must be at most 4096 bytes"}},
	{name: "FAIL unknown field", body: submit(`{"action":"FAIL","times":2}`, ""), want: []string{"times: is not a field of this action"}},

	// the attempt's time budget
	{name: "simulated total over cap", body: submit(`{"action":"SLEEP","durationMs":300000},{"action":"SLEEP","durationMs":300000},{"action":"SLEEP","durationMs":1}`, ""),
		want: []string{"the attempt time limit is 600000 ms; these steps' time budgets add up to 600001 ms"}},
	{name: "COMPUTE counts toward the budget", body: submit(`{"action":"SLEEP","durationMs":300000},{"action":"SLEEP","durationMs":299500},{"action":"COMPUTE","iterations":100000000}`, ""),
		want: []string{"add up to 600500 ms", "COMPUTE at 100000 iterations per ms"}},
	{name: "simulated total counts latency and timeouts", body: submit(`{"action":"SLEEP","durationMs":300000},{"action":"HTTP_CALL","latencyMs":60000},{"action":"HTTP_CALL","url":"http://a.example","timeoutMs":30000}`+
		strings.Repeat(`,{"action":"HTTP_CALL","url":"http://a.example"}`, 22), ""),
		want: []string{"add up to 610000 ms"}},

	// several problems at once
	{name: "every top-level problem", body: `{"jobType":"X","payload":{"steps":[]},"maxRetryCount":99}`,
		want: []string{`unknown job type "X"`, "maxRetryCount: must be between 0 and 20", "payload.steps: must hold 1 to 100 steps"}},
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			job, err := jobspec.Decode([]byte(tc.body), jobspec.Default)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Decode: unexpected error: %v", err)
				}
				if job.JobType != "SIMULATION" || job.MaxRetryCount != tc.retries || len(job.Steps) == 0 {
					t.Fatalf("Decode = %+v, want SIMULATION with maxRetryCount %d", job, tc.retries)
				}
				return
			}
			var je *jobspec.Error
			if !errors.As(err, &je) {
				t.Fatalf("Decode: error %v (%T), want *jobspec.Error", err, err)
			}
			if !reflect.DeepEqual(job, jobspec.Job{}) {
				t.Errorf("Decode returned a job with its error: %+v", job)
			}
			for _, w := range tc.want {
				found := false
				for _, p := range je.Problems {
					if strings.Contains(p, w) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem contains %q; problems: %q", w, je.Problems)
				}
			}
			if len(je.Problems) > len(tc.want) && len(tc.want) > 1 {
				t.Errorf("problems %q: more than the %d expected", je.Problems, len(tc.want))
			}
			if je.Error() != strings.Join(je.Problems, "; ") {
				t.Errorf("Error() = %q", je.Error())
			}
			for _, p := range je.Problems {
				// Messages are for API clients: no Go type names.
				for _, leak := range []string{"jobspec.", "json.RawMessage", "int64", "main."} {
					if strings.Contains(p, leak) {
						t.Errorf("problem %q shows Go internals (%s)", p, leak)
					}
				}
			}
		})
	}
}

func TestDecodeKeepsStepsAndPayload(t *testing.T) {
	t.Parallel()
	body := `{"jobType":"SIMULATION","payload":{"steps":[ {"action":"LOG", "message":"a <b> & c"} , {"action":"SLEEP","durationMs":5} ]}}`
	job, err := jobspec.Decode([]byte(body), jobspec.Default)
	if err != nil {
		t.Fatal(err)
	}
	if len(job.Steps) != 2 || job.MaxRetryCount != jobspec.DefaultRetryCount {
		t.Fatalf("job = %+v", job)
	}
	var p struct {
		Steps []map[string]any `json:"steps"`
	}
	if err := json.Unmarshal(job.PayloadJSON(), &p); err != nil {
		t.Fatalf("PayloadJSON %s: %v", job.PayloadJSON(), err)
	}
	want := []map[string]any{{"action": "LOG", "message": "a <b> & c"}, {"action": "SLEEP", "durationMs": float64(5)}}
	if !reflect.DeepEqual(p.Steps, want) {
		t.Fatalf("PayloadJSON steps = %v, want %v", p.Steps, want)
	}
	steps, err := jobspec.ParseSteps(job.PayloadJSON(), step.Default)
	if err != nil || len(steps) != 2 || steps[0].Action() != "LOG" || steps[1].Action() != "SLEEP" {
		t.Fatalf("ParseSteps = %v, %v", steps, err)
	}
}

func TestDecodeUsesTheGivenRegistry(t *testing.T) {
	t.Parallel()
	reg := jobspec.NewRegistry()
	reg.Register(jobspec.StepList("SIMULATION", "SimulationPayload", step.NewRegistry(), false))
	body := submit(`{"action":"LOG","message":"x"}`, "")
	_, err := jobspec.Decode([]byte(body), reg)
	if err == nil || !strings.Contains(err.Error(), `unknown action "LOG"`) {
		t.Fatalf("Decode with an empty registry: %v", err)
	}
}

func TestParseStepsErrors(t *testing.T) {
	t.Parallel()
	if _, err := jobspec.ParseSteps([]byte(`{"steps":5}`), step.Default); err == nil {
		t.Error("ParseSteps accepted steps that are not an array")
	}
	_, err := jobspec.ParseSteps([]byte(`{"steps":[{"action":"LOG","message":"x"},{"action":"NOPE"}]}`), step.Default)
	if err == nil || !strings.Contains(err.Error(), "payload.steps[1]") || !errors.Is(err, step.ErrInvalid) {
		t.Errorf("ParseSteps error = %v, want one naming payload.steps[1] and wrapping step.ErrInvalid", err)
	}
}

// FuzzDecode: Decode never panics, every error is a *jobspec.Error with
// problems, and an accepted job re-encoded as a submission decodes to the
// same job.
func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		job, err := jobspec.Decode(body, jobspec.Default)
		if err != nil {
			var je *jobspec.Error
			if !errors.As(err, &je) || len(je.Problems) == 0 {
				t.Fatalf("Decode error %v (%T) is not a *jobspec.Error with problems", err, err)
			}
			return
		}
		if !jobspec.JobTypes[job.JobType] || len(job.Steps) < 1 || len(job.Steps) > jobspec.MaxSteps ||
			job.MaxRetryCount < 0 || job.MaxRetryCount > jobspec.MaxRetryCount {
			t.Fatalf("accepted an invalid job %+v", job)
		}
		again, err := json.Marshal(map[string]any{
			"jobType": job.JobType, "payload": job.PayloadJSON(), "maxRetryCount": job.MaxRetryCount,
		})
		if err != nil {
			t.Fatal(err)
		}
		job2, err := jobspec.Decode(again, jobspec.Default)
		if err != nil {
			t.Fatalf("re-decoding accepted job %s: %v", again, err)
		}
		if job2.JobType != job.JobType || job2.MaxRetryCount != job.MaxRetryCount || len(job2.Steps) != len(job.Steps) {
			t.Fatalf("re-decoded %+v, want %+v", job2, job)
		}
		for i := range job.Steps {
			if !sameJSON(job.Steps[i], job2.Steps[i]) {
				t.Fatalf("step %d: %s re-decoded as %s", i, job.Steps[i], job2.Steps[i])
			}
		}
	})
}

func sameJSON(a, b []byte) bool {
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y) && reflect.DeepEqual(x, y)
}

// BenchmarkDecode: one typical submission, validated (the submit path's
// per-job parsing cost).
func BenchmarkDecode(b *testing.B) {
	body := []byte(submit(`{"action":"LOG","message":"Starting simulation"},{"action":"SLEEP","durationMs":200},{"action":"COMPUTE","iterations":10000},{"action":"LOG","message":"Simulation complete"}`, `"maxRetryCount":3`))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jobspec.Decode(body, jobspec.Default); err != nil {
			b.Fatal(err)
		}
	}
}
