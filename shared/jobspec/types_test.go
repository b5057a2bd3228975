package jobspec_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/jobweaver/jobweaver/shared/jobspec"
	"github.com/jobweaver/jobweaver/shared/script"
	"github.com/jobweaver/jobweaver/shared/step"
)

func TestRegistryNames(t *testing.T) {
	if got, want := jobspec.Default.Names(), []string{"BATCH_PROCESS", "DATA_PIPELINE", "SIMULATION", "WEBHOOK"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Names = %v; want %v", got, want)
	}
	for _, n := range jobspec.Default.Names() {
		if !jobspec.JobTypes[n] {
			t.Errorf("JobTypes misses %s", n)
		}
	}
	r := jobspec.NewRegistry()
	r.Register(jobspec.Type{Name: "X", Parse: func(json.RawMessage) (jobspec.Plan, []string) { return jobspec.Plan{}, nil }})
	if c := r.With(jobspec.Simulation); len(c.Names()) != 2 || len(r.Names()) != 1 {
		t.Errorf("With changed the original or missed a type: %v %v", c.Names(), r.Names())
	}
}

// Every registered type has its schema in docs/openapi.yaml, the JobType
// enum and the JobSubmission discriminator list exactly the registered
// types.
func TestRegistryMatchesOpenAPI(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Enum          []string `yaml:"enum"`
				Discriminator struct {
					Mapping map[string]string `yaml:"mapping"`
				} `yaml:"discriminator"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	schemas := doc.Components.Schemas
	if got := schemas["JobType"].Enum; !reflect.DeepEqual(sorted(got), jobspec.Default.Names()) {
		t.Errorf("JobType enum %v; registered %v", got, jobspec.Default.Names())
	}
	mapping := schemas["JobSubmission"].Discriminator.Mapping
	if len(mapping) != len(jobspec.Default.Names()) {
		t.Errorf("JobSubmission discriminator maps %v; registered %v", mapping, jobspec.Default.Names())
	}
	for _, n := range jobspec.Default.Names() {
		typ, _ := jobspec.Default.Lookup(n)
		if _, ok := schemas[typ.Schema]; typ.Schema == "" || !ok {
			t.Errorf("%s: schema %q is not in docs/openapi.yaml", n, typ.Schema)
		}
		if mapping[n] == "" {
			t.Errorf("%s: not in the JobSubmission discriminator", n)
		}
	}
	// Every step kind of the pipeline registry is in PipelineStep, and
	// every batch item kind in BatchItemStep.
	pm := schemas["PipelineStep"].Discriminator.Mapping
	for _, a := range step.Pipeline.Actions() {
		if pm[a] == "" {
			t.Errorf("PipelineStep does not map %s", a)
		}
	}
	bm := schemas["BatchItemStep"].Discriminator.Mapping
	for _, a := range step.BatchItem.Actions() {
		if bm[a] == "" {
			t.Errorf("BatchItemStep does not map %s", a)
		}
	}
	if len(bm) != len(step.BatchItem.Actions()) {
		t.Errorf("BatchItemStep maps %v; registered %v", bm, step.BatchItem.Actions())
	}
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func webhook(payload string) string { return `{"jobType":"WEBHOOK","payload":` + payload + `}` }
func pipeline(steps string) string {
	return `{"jobType":"DATA_PIPELINE","payload":{"steps":[` + steps + `]}}`
}

func TestDecodeJobTypes(t *testing.T) {
	maxSource := "result = 1\n#" + strings.Repeat("x", script.MaxSourceBytes-13)
	srcJSON, _ := json.Marshal(maxSource)
	fixture, err := os.ReadFile(filepath.Join("testdata", "pipeline.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, body string
		want       []string // problems; none: valid
		jobType    string
		steps      int
	}{
		// WEBHOOK
		{name: "webhook minimal", body: webhook(`{"url":"https://hooks.example.com/x"}`), jobType: "WEBHOOK", steps: 1},
		{name: "webhook every field", body: webhook(`{"url":"https://hooks.example.com/x","method":"PUT","headers":{"X-Tenant":"a"},
			"body":{"event":"done"},"timeoutMs":30000,"expectStatus":[200,202],"signingKey":"partner-a"}`), jobType: "WEBHOOK", steps: 1},
		{name: "webhook string body", body: webhook(`{"url":"http://h.example","body":"plain text"}`), jobType: "WEBHOOK", steps: 1},
		{name: "webhook body at its limit", body: webhook(`{"url":"http://h.example","body":"` + strings.Repeat("a", step.MaxBodyBytes) + `"}`), jobType: "WEBHOOK", steps: 1},
		{name: "webhook body too long", body: webhook(`{"url":"http://h.example","body":"` + strings.Repeat("a", step.MaxBodyBytes+1) + `"}`), want: []string{"payload.body: must be at most 65536 bytes"}},
		{name: "webhook no payload", body: `{"jobType":"WEBHOOK"}`, want: []string{"payload: is required"}},
		{name: "webhook payload not an object", body: webhook(`[1]`), want: []string{"payload: must be an object"}},
		{name: "webhook no url", body: webhook(`{"method":"POST"}`), want: []string{"payload.url: is required"}},
		{name: "webhook ftp", body: webhook(`{"url":"ftp://h.example/x"}`), want: []string{`payload.url: scheme must be http or https`}},
		{name: "webhook credentials", body: webhook(`{"url":"https://u:p@h.example/x"}`), want: []string{"payload.url: must not carry credentials"}},
		{name: "webhook unknown field", body: webhook(`{"url":"https://h.example","secret":"x"}`), want: []string{"payload.secret: is not a field"}},
		{name: "webhook field case", body: webhook(`{"URL":"https://h.example"}`), want: []string{"payload.URL"}},
		{name: "webhook HEAD", body: webhook(`{"url":"https://h.example","method":"HEAD"}`), want: []string{`payload.method: must be POST, PUT, PATCH, DELETE or GET (got "HEAD")`}},
		{name: "webhook expectStatus empty", body: webhook(`{"url":"https://h.example","expectStatus":[]}`), want: []string{"payload.expectStatus: must hold 1 to 50"}},
		{name: "webhook expectStatus 600", body: webhook(`{"url":"https://h.example","expectStatus":[600]}`), want: []string{"between 100 and 599"}},
		{name: "webhook timeout 0", body: webhook(`{"url":"https://h.example","timeoutMs":0}`), want: []string{"payload.timeoutMs: must be between 1 and 30000"}},
		{name: "webhook signing key name", body: webhook(`{"url":"https://h.example","signingKey":"has space"}`), want: []string{"payload.signingKey: must be the name of a signing key"}},
		{name: "webhook reserved header", body: webhook(`{"url":"https://h.example","headers":{"x-jobweaver-signature":"forged"}}`), want: []string{"X-Jobweaver-Signature is set by the worker"}},
		{name: "webhook host header", body: webhook(`{"url":"https://h.example","headers":{"Host":"other"}}`), want: []string{"Host is set by the worker"}},
		{name: "webhook header newline", body: webhook(`{"url":"https://h.example","headers":{"X-A":"a\r\nB: c"}}`), want: []string{"may not hold CR, LF"}},
		// DATA_PIPELINE
		{name: "pipeline fixture", body: string(fixture), jobType: "DATA_PIPELINE", steps: 3},
		{name: "pipeline ids on every kind", body: pipeline(`{"id":"a","action":"SLEEP","durationMs":1},{"id":"b","action":"LOG","message":"x"},{"id":"c","action":"COMPUTE","iterations":1},{"id":"d","action":"FAIL","failTimes":0},{"id":"e","action":"HTTP_CALL","latencyMs":1}`), jobType: "DATA_PIPELINE", steps: 5},
		{name: "pipeline script at max source", body: pipeline(`{"id":"s","action":"SCRIPT","source":` + string(srcJSON) + `,"timeoutMs":10000}`), jobType: "DATA_PIPELINE", steps: 1},
		{name: "pipeline script over max source", body: pipeline(`{"action":"SCRIPT","source":"` + strings.Repeat("x", script.MaxSourceBytes+1) + `"}`), want: []string{"payload.steps[0].source: source must be at most 16384 bytes"}},
		{name: "pipeline script parse error names the line", body: pipeline(`{"action":"LOG","message":"x"},{"id":"s","action":"SCRIPT","source":"x = 1\nresult = (x +\n"}`), want: []string{"payload.steps[1].source: line 3:"}},
		{name: "pipeline script undefined name", body: pipeline(`{"action":"SCRIPT","source":"result = 1\nprint(nope)"}`), want: []string{"payload.steps[0].source: line 2: undefined: nope"}},
		{name: "pipeline script load", body: pipeline(`{"action":"SCRIPT","source":"load('m', 'x')\nresult = 1"}`), want: []string{"line 1: load is not available"}},
		{name: "pipeline script timeout too long", body: pipeline(`{"action":"SCRIPT","source":"result = 1","timeoutMs":10001}`), want: []string{"payload.steps[0].timeoutMs: must be between 1 and 10000"}},
		{name: "pipeline duplicate id", body: pipeline(`{"id":"a","action":"LOG","message":"x"},{"id":"a","action":"LOG","message":"y"}`), want: []string{`payload.steps[1].id: "a" is already the id of payload.steps[0]`}},
		{name: "pipeline bad id", body: pipeline(`{"id":"1a","action":"LOG","message":"x"}`), want: []string{"payload.steps[0].id: must be 1 to 64"}},
		{name: "pipeline id twice in a step", body: pipeline(`{"id":"a","id":"b","action":"LOG","message":"x"}`), want: []string{"payload.steps[0].id: appears more than once"}},
		{name: "pipeline id not a string", body: pipeline(`{"id":5,"action":"LOG","message":"x"}`), want: []string{"payload.steps[0].id: must be a string"}},
		{name: "pipeline no steps", body: pipeline(``), want: []string{"payload.steps: must hold 1 to 100 steps"}},
		{name: "pipeline past the attempt limit resumes", body: pipeline(nSteps(61, `{"action":"SCRIPT","source":"result = 1","timeoutMs":10000}`)), jobType: "DATA_PIPELINE", steps: 61},
		{name: "pipeline http body", body: pipeline(`{"id":"p","action":"HTTP_CALL","url":"https://h.example","method":"POST","headers":{"Content-Type":"application/json"},"body":{"a":1}}`), jobType: "DATA_PIPELINE", steps: 1},
		// SIMULATION stays as it was
		{name: "simulation refuses SCRIPT", body: submit(`{"action":"SCRIPT","source":"result = 1"}`, ""), want: []string{`unknown action "SCRIPT"`}},
		{name: "simulation refuses ids", body: submit(`{"id":"a","action":"LOG","message":"x"}`, ""), want: []string{"payload.steps[0].id: is not a field of this action; step IDs are for DATA_PIPELINE jobs"}},
		// unknown types
		{name: "unknown type lists the registered", body: `{"jobType":"BATCH","payload":{"steps":[{"action":"LOG","message":"x"}]}}`, want: []string{`jobType: unknown job type "BATCH"; one of BATCH_PROCESS, DATA_PIPELINE, SIMULATION, WEBHOOK`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			job, err := jobspec.Decode([]byte(c.body), jobspec.Default)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if job.JobType != c.jobType || len(job.Steps) != c.steps {
					t.Fatalf("Decode = %s with %d parts; want %s with %d", job.JobType, len(job.Steps), c.jobType, c.steps)
				}
				// What is stored runs: the worker parses it back.
				steps, typ, err := jobspec.Default.Steps(job.JobType, job.PayloadJSON())
				if err != nil || len(steps) != c.steps || typ.Name != c.jobType {
					t.Fatalf("Steps(stored) = %d steps, %s, %v", len(steps), typ.Name, err)
				}
				if err := job.CheckSize(); err != nil {
					t.Errorf("CheckSize: %v", err)
				}
				return
			}
			var je *jobspec.Error
			if !errors.As(err, &je) {
				t.Fatalf("Decode = %v; want *jobspec.Error", err)
			}
			for _, w := range c.want {
				if !strings.Contains(je.Error(), w) {
					t.Errorf("problems %q; want one containing %q", je.Problems, w)
				}
			}
		})
	}
}

func TestStepsUnknownType(t *testing.T) {
	if _, _, err := jobspec.Default.Steps("NOPE", json.RawMessage(`{}`)); err == nil || !strings.Contains(err.Error(), `unknown job type "NOPE"`) {
		t.Fatalf("Steps = %v", err)
	}
	_, _, err := jobspec.Default.Steps("WEBHOOK", json.RawMessage(`{"url":"ftp://x"}`))
	if !errors.Is(err, step.ErrInvalid) {
		t.Fatalf("Steps of a bad stored payload = %v; want step.ErrInvalid", err)
	}
}

// FuzzDecodePipeline: a DATA_PIPELINE submission with any script source
// never panics; an accepted one compiles again from what is stored.
func FuzzDecodePipeline(f *testing.F) {
	for _, s := range []string{"result = 1", "x = (", "def f(n):\n  return n\nresult = f(2)", "a = [1]\na += [2]\nresult = a", "result = ','.join(['a'])", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		sj, _ := json.Marshal(src)
		job, err := jobspec.Decode([]byte(pipeline(`{"id":"s","action":"SCRIPT","source":`+string(sj)+`}`)), jobspec.Default)
		if err != nil {
			var je *jobspec.Error
			if !errors.As(err, &je) {
				t.Fatalf("Decode error %T %v", err, err)
			}
			return
		}
		if _, _, err := jobspec.Default.Steps(job.JobType, job.PayloadJSON()); err != nil {
			t.Fatalf("stored pipeline does not parse: %v", err)
		}
	})
}
