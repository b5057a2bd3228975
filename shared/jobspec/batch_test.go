package jobspec_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/jobspec"
	"github.com/jobweaver/jobweaver/shared/step"
)

// batchBody is a BATCH_PROCESS submission of n items item, with extra
// payload fields.
func batchBody(n int, item, extra, stepJSON string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = item
	}
	return fmt.Sprintf(`{"jobType":"BATCH_PROCESS","payload":{"items":[%s]%s,"step":%s}}`, strings.Join(items, ","), extra, stepJSON)
}

const logItem = `{"action":"LOG","message":"item {{index}}: {{item.name}}"}`

func TestDecodeBatch(t *testing.T) {
	t.Parallel()
	big := `"` + strings.Repeat("x", step.MaxBatchItemBytes-2) + `"` // exactly the cap, as compact JSON
	for _, c := range []struct {
		name string
		body string
		want []string // problems; none: valid
	}{
		{name: "one item", body: batchBody(1, `{"name":"a"}`, "", logItem)},
		{name: "items at the maximum", body: batchBody(step.MaxBatchItems, `1`, "", logItem)},
		{name: "items over the maximum", body: batchBody(step.MaxBatchItems+1, `1`, "", logItem), want: []string{"payload.items: must hold 1 to 10000 items (got 10001)"}},
		{name: "no items", body: batchBody(0, `1`, "", logItem), want: []string{"payload.items: must hold 1 to 10000 items (got 0)"}},
		{name: "items missing", body: `{"jobType":"BATCH_PROCESS","payload":{"step":` + logItem + `}}`, want: []string{"payload.items: is required"}},
		{name: "items not an array", body: `{"jobType":"BATCH_PROCESS","payload":{"items":{},"step":` + logItem + `}}`, want: []string{"payload.items: must be an array (got object)"}},
		{name: "any JSON values", body: `{"jobType":"BATCH_PROCESS","payload":{"items":[null, true, 1.5, "s", [1], {"a": {"b": 2}}],"step":` + logItem + `}}`},
		{name: "item at the byte cap", body: batchBody(2, big, "", logItem)},
		{name: "item over the byte cap", body: batchBody(2, big[:1]+"y"+big[1:], "", logItem), want: []string{"payload.items[0]: must take at most 65536 bytes as compact JSON (got 65537)"}},
		{name: "chunkSize 1", body: batchBody(3, `1`, `,"chunkSize":1`, logItem)},
		{name: "chunkSize at the maximum", body: batchBody(3, `1`, `,"chunkSize":1000`, logItem)},
		{name: "chunkSize over the maximum", body: batchBody(3, `1`, `,"chunkSize":1001`, logItem), want: []string{"payload.chunkSize: must be between 1 and 1000 (got 1001)"}},
		{name: "chunkSize 0", body: batchBody(3, `1`, `,"chunkSize":0`, logItem), want: []string{"payload.chunkSize: must be between 1 and 1000 (got 0)"}},
		{name: "chunkSize fraction", body: batchBody(3, `1`, `,"chunkSize":1.5`, logItem), want: []string{"payload.chunkSize: must be an integer"}},
		{name: "maxFailedItems at the maximum", body: batchBody(3, `1`, `,"maxFailedItems":10000`, logItem)},
		{name: "maxFailedItems over the maximum", body: batchBody(3, `1`, `,"maxFailedItems":10001`, logItem), want: []string{"payload.maxFailedItems: must be between 0 and 10000 (got 10001)"}},
		{name: "maxFailedItems negative", body: batchBody(3, `1`, `,"maxFailedItems":-1`, logItem), want: []string{"payload.maxFailedItems: must be between 0 and 10000 (got -1)"}},
		{name: "unknown payload field", body: batchBody(3, `1`, `,"parallel":4`, logItem), want: []string{"payload.parallel: is not a field of a job submission"}},
		{name: "payload field in another case", body: batchBody(3, `1`, `,"ChunkSize":4`, logItem), want: []string{`field names are case-sensitive: "chunkSize"`}},
		{name: "step missing", body: `{"jobType":"BATCH_PROCESS","payload":{"items":[1]}}`, want: []string{"payload.step: is required"}},
		{name: "steps instead of step", body: `{"jobType":"BATCH_PROCESS","payload":{"items":[1],"steps":[` + logItem + `]}}`, want: []string{"payload.steps: is not a field"}},
		{name: "payload missing", body: `{"jobType":"BATCH_PROCESS"}`, want: []string{`payload: is required, as {"items": [...], "step": {...}}`}},
		{name: "payload not an object", body: `{"jobType":"BATCH_PROCESS","payload":[1]}`, want: []string{"payload: must be an object"}},
		{name: "step with an id", body: batchBody(1, `1`, "", `{"id":"a","action":"LOG","message":"x"}`), want: []string{"payload.step.id: is not a field of this action"}},
		{name: "WEBHOOK is not an item step", body: batchBody(1, `1`, "", `{"action":"WEBHOOK","url":"https://x.example"}`), want: []string{`payload.step.action: unknown action "WEBHOOK"; one of COMPUTE, FAIL, HTTP_CALL, LOG, SCRIPT, SLEEP`}},
		{name: "unknown template", body: batchBody(1, `1`, "", `{"action":"LOG","message":"{{items}}"}`), want: []string{"payload.step.message: {{items}} is not a template; use {{item}}"}},
		{name: "unclosed template", body: batchBody(1, `1`, "", `{"action":"LOG","message":"a {{item"}`), want: []string{"payload.step.message: \"{{item\" opens a template that is never closed"}},
		{name: "empty path segment", body: batchBody(1, `1`, "", `{"action":"LOG","message":"{{item..a}}"}`), want: []string{"{{item..a}} is not a template"}},
		{name: "http templates", body: batchBody(2, `{"id":1,"host":"h.example"}`, "",
			`{"action":"HTTP_CALL","method":"POST","url":"https://api.example/u/{{ item.id }}?i={{index}}","headers":{"X-Id":"{{item.id}}"},"body":{"u":"{{item}}","s":"id {{item.id}}"}}`)},
		{name: "url from the item", body: batchBody(1, `"https://h.example/x"`, "", `{"action":"HTTP_CALL","url":"{{item}}"}`)},
		{name: "templated host", body: batchBody(1, `{"h":"a"}`, "", `{"action":"HTTP_CALL","url":"https://{{item.h}}.example/"}`)},
		{name: "url template in the scheme", body: batchBody(1, `1`, "", `{"action":"HTTP_CALL","url":"{{item}}://h.example/"}`), want: []string{"payload.step.url: scheme must be http or https"}},
		{name: "bad body template", body: batchBody(1, `1`, "", `{"action":"HTTP_CALL","url":"https://h.example","method":"POST","body":{"a":["{{nope}}"]}}`), want: []string{"payload.step.body: {{nope}} is not a template"}},
		{name: "bad header template", body: batchBody(1, `1`, "", `{"action":"HTTP_CALL","url":"https://h.example","headers":{"X-A":"{{x}}"}}`), want: []string{"payload.step.headers: X-A: {{x}} is not a template"}},
		{name: "reserved header", body: batchBody(1, `1`, "", `{"action":"HTTP_CALL","url":"https://h.example","headers":{"Host":"{{item}}"}}`), want: []string{"payload.step.headers: Host is set by the worker"}},
		{name: "script reads item and index", body: batchBody(2, `{"n":1}`, "", `{"action":"SCRIPT","source":"result = item[\"n\"] + index"}`)},
		{name: "script undefined name", body: batchBody(1, `1`, "", `{"action":"SCRIPT","source":"result = 1\nx = outputs2"}`), want: []string{"payload.step.source: line 2: undefined: outputs2"}},
		{name: "item budget at the step limit", body: batchBody(1, `1`, "", `{"action":"SLEEP","durationMs":60000}`)},
		{name: "item budget over the step limit", body: batchBody(1, `1`, "", `{"action":"SLEEP","durationMs":60001}`), want: []string{"payload.step: one item's time budget is 60001 ms, over the step time limit of 60000 ms"}},
		{name: "exponent at the maximum", body: batchBody(2, `[1e30, -2.5E-30]`, "", logItem)},
		{name: "exponent over the maximum", body: batchBody(2, `{"a":[1e31]}`, "", logItem), want: []string{"payload.items[0]: the number 1e31 has an exponent beyond ±30"}},
		{name: "exponent in the step body", body: batchBody(1, `1`, "", `{"action":"HTTP_CALL","url":"https://h.example","method":"POST","body":{"n":1e400}}`), want: []string{"payload.step: the number 1e400 has an exponent beyond ±30"}},
		{name: "sleep over its cap", body: batchBody(1, `1`, "", `{"action":"SLEEP","durationMs":300001}`), want: []string{"payload.step.durationMs: must be between 0 and 300000"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			job, err := jobspec.Decode([]byte(c.body), jobspec.Default)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if job.JobType != "BATCH_PROCESS" || len(job.Steps) != 1 {
					t.Fatalf("Decode = %s with %d parts", job.JobType, len(job.Steps))
				}
				// What is stored runs: the worker parses it back.
				steps, typ, err := jobspec.Default.Steps(job.JobType, job.PayloadJSON())
				if err != nil || len(steps) != 1 || !typ.KeepsOutputs {
					t.Fatalf("Steps(stored) = %d steps, %+v, %v", len(steps), typ, err)
				}
				if _, ok := steps[0].(*step.Batch); !ok {
					t.Fatalf("step %T; want *step.Batch", steps[0])
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

// The largest batch the api takes (10,000 items filling its 256 KiB body
// limit with the characters JSON encoders treat specially: control
// characters, quotes, backslashes, <, >, &, U+2028, non-ASCII) fits every
// event with the default retries, and the payload bound covers the
// payload as events encode it.
func TestBatchAtTheBodyLimitFitsTheEvents(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile(filepath.Join("testdata", "batch_max.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > 256<<10 || len(body) < 250<<10 {
		t.Fatalf("fixture takes %d bytes; want just under the api's 262144-byte body limit", len(body))
	}
	job, err := jobspec.Decode(body, jobspec.Default)
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Items []json.RawMessage }
	if err := json.Unmarshal(job.PayloadJSON(), &p); err != nil || len(p.Items) != step.MaxBatchItems {
		t.Fatalf("%d items, %v", len(p.Items), err)
	}
	s := job.EventSizes()
	reenc, _ := envelope.JSON(json.RawMessage(job.PayloadJSON())) // as events encode it
	if s.Payload < len(reenc) {
		t.Fatalf("payload bound %d < %d, the payload re-encoded", s.Payload, len(reenc))
	}
	if err := job.CheckSize(); err != nil {
		t.Fatalf("CheckSize: %v (sizes %+v)", err, s)
	}
}

// Numbers with an exponent are stored written out, as Postgres jsonb
// would give them back, so the size check counts what the events carry.
func TestBatchNumbersStoredWrittenOut(t *testing.T) {
	t.Parallel()
	job, err := jobspec.Decode([]byte(batchBody(1, `{"a":1e30,"b":1.50e1,"c":-2.5E-3,"s":"1e99","t":true}`, "", logItem)), jobspec.Default)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"items":[{"a":1000000000000000000000000000000,"b":15.0,"c":-0.0025,"s":"1e99","t":true}],"step":{"action":"LOG","message":"item {{index}}: {{item.name}}"}}`
	if got := string(job.PayloadJSON()); got != want {
		t.Fatalf("stored %s\nwant   %s", got, want)
	}
}
