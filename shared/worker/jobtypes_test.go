package worker_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/apigwtest"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/paging"
	"github.com/jobweaver/jobweaver/shared/step"
	"github.com/jobweaver/jobweaver/shared/webhook"
	"github.com/jobweaver/jobweaver/shared/worker"
)

const testSecret = "s3cret-partner-key-0123456789"

func typedJob(tb testing.TB, jobID string, attempt int, jobType, payload string) envelope.Envelope {
	tb.Helper()
	now := time.Now().UTC()
	e, err := envelope.New(envelope.TypeRunJob, "trace-"+uuid.NewString()[:8], jobID, envelope.RunJob{
		JobSpec:      envelope.JobSpec{JobType: jobType, Payload: json.RawMessage(payload), MaxRetryCount: 3},
		Attempt:      attempt,
		DispatchedAt: now,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// hook is a webhook receiver that records its deliveries and answers
// each job's attempts with the statuses queued for it.
type hook struct {
	mu       sync.Mutex
	got      []delivery
	statuses []int // answered in turn; 200 once empty
	delay    time.Duration
}

type delivery struct {
	header http.Header
	body   []byte
	method string
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.got = append(h.got, delivery{r.Header.Clone(), b, r.Method})
	code := 200
	if len(h.statuses) > 0 {
		code, h.statuses = h.statuses[0], h.statuses[1:]
	}
	h.mu.Unlock()
	if h.delay > 0 {
		select {
		case <-time.After(h.delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("X-Receiver", "test")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func (h *hook) deliveries() []delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]delivery(nil), h.got...)
}

func executions(tb testing.TB, b *bundle, jobID string) []worker.Execution {
	tb.Helper()
	code, body := apigwtest.Call(context.Background(), tb, b.svc.Handle, http.MethodGet, "/internal/executions/"+jobID, "")
	var p paging.Page[worker.Execution]
	if err := json.Unmarshal(body, &p); err != nil || code != 200 {
		tb.Fatalf("executions: %d %s", code, body)
	}
	return p.Content
}

func TestWebhookDeliveries(t *testing.T) {
	keys := map[string][]byte{"partner": []byte(testSecret)}
	for _, c := range []struct {
		name      string
		payload   func(url string) string
		statuses  []int
		delay     time.Duration
		attempts  int      // run-jobs sent, attempt 1..n
		wantCodes []string // per attempt: "" completed
		permanent bool
		calls     int
	}{
		{name: "signed delivery", payload: func(u string) string {
			return `{"url":"` + u + `/hook","body":{"event":"order.paid","id":7},"signingKey":"partner","headers":{"X-Tenant":"t1"}}`
		}, attempts: 1, wantCodes: []string{""}, calls: 1},
		{name: "string body, PUT", payload: func(u string) string {
			return `{"url":"` + u + `/hook","method":"PUT","body":"plain <text>","signingKey":"partner"}`
		}, attempts: 1, wantCodes: []string{""}, calls: 1},
		{name: "500 then success", payload: func(u string) string { return `{"url":"` + u + `/hook"}` },
			statuses: []int{500}, attempts: 2, wantCodes: []string{step.CodeWebhookStatus, ""}, calls: 2},
		{name: "status outside expectStatus", payload: func(u string) string { return `{"url":"` + u + `/hook","expectStatus":[202]}` },
			attempts: 1, wantCodes: []string{step.CodeWebhookStatus}, calls: 1},
		{name: "expectStatus accepts a 404", payload: func(u string) string { return `{"url":"` + u + `/hook","expectStatus":[404]}` },
			statuses: []int{404}, attempts: 1, wantCodes: []string{""}, calls: 1},
		{name: "timeout", payload: func(u string) string { return `{"url":"` + u + `/hook","timeoutMs":200}` },
			delay: 3 * time.Second, attempts: 1, wantCodes: []string{worker.CodeStepFailed}, calls: 1},
		{name: "unknown signing key", payload: func(u string) string { return `{"url":"` + u + `/hook","signingKey":"nobody"}` },
			attempts: 1, wantCodes: []string{step.CodeWebhookKeyUnknown}, permanent: true, calls: 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := &hook{statuses: c.statuses, delay: c.delay}
			srv := httptest.NewServer(h)
			defer srv.Close()
			b := setup(t, worker.Config{HTTPAllowlist: []string{"127.0.0.1/32"}, SigningKeys: keys})
			jobID := uuid.NewString()
			payload := c.payload(srv.URL)
			for a := 1; a <= c.attempts; a++ {
				start := time.Now()
				if err := b.svc.HandleKafka(context.Background(), batch(typedJob(t, jobID, a, "WEBHOOK", payload))); err != nil {
					t.Fatal(err)
				}
				if el := time.Since(start); el > 2*time.Second {
					t.Errorf("attempt %d took %s", a, el)
				}
			}
			execs := executions(t, b, jobID)
			if len(execs) != c.attempts {
				t.Fatalf("%d executions; want %d", len(execs), c.attempts)
			}
			for i, e := range execs {
				if e.ErrorCode != c.wantCodes[i] {
					t.Errorf("attempt %d: errorCode %q (%s); want %q", i+1, e.ErrorCode, e.Error, c.wantCodes[i])
				}
				if len(e.Steps) != 1 || e.Steps[0].Action != "WEBHOOK" {
					t.Fatalf("attempt %d steps %+v", i+1, e.Steps)
				}
			}
			calls := h.deliveries()
			if len(calls) != c.calls {
				t.Fatalf("%d deliveries; want %d", len(calls), c.calls)
			}
			if c.permanent {
				envs, _ := read(t, b.brokers, envelope.TopicJobFailed, 1)
				if r := attemptResult(t, envs[0]); !r.Permanent || !strings.Contains(r.Error, "nobody") {
					t.Errorf("result %+v; want permanent, naming the key", r)
				}
			}
			if strings.Contains(b.logs.String(), testSecret) {
				t.Error("the signing secret appears in the logs")
			}
			last := execs[len(execs)-1]
			if c.calls > 0 && last.Steps[0].Output == nil && c.delay == 0 {
				t.Errorf("no output recorded: %+v", last.Steps[0])
			}
			for i, d := range calls {
				if d.header.Get(step.HeaderJobID) != jobID || d.header.Get(webhook.HeaderAttempt) != strconv.Itoa(i+1) {
					t.Errorf("delivery %d headers %v", i, d.header)
				}
				if ts, err := strconv.ParseInt(d.header.Get(webhook.HeaderTimestamp), 10, 64); err != nil || time.Since(time.Unix(ts, 0)) > time.Minute {
					t.Errorf("delivery %d timestamp %q", i, d.header.Get(webhook.HeaderTimestamp))
				}
				sig := d.header.Get(webhook.HeaderSignature)
				if strings.Contains(payload, "signingKey") {
					if !webhook.Verify([]byte(testSecret), d.body, sig) {
						t.Errorf("delivery %d: signature %q does not verify over %q", i, sig, d.body)
					}
					if webhook.Verify([]byte("another-secret-0123456789"), d.body, sig) {
						t.Error("signature verifies under another secret")
					}
				} else if sig != "" {
					t.Errorf("unsigned delivery carries %q", sig)
				}
			}
		})
	}
}

func TestWebhookOutputAndBody(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := setup(t, worker.Config{HTTPAllowlist: []string{"127.0.0.1/32"}})
	jobID := uuid.NewString()
	payload := `{"url":"` + srv.URL + `/x","body":{"b":"<&>","a":[1, 2]},"headers":{"X-Tenant":"t1"}}`
	if err := b.svc.HandleKafka(context.Background(), batch(typedJob(t, jobID, 1, "WEBHOOK", payload))); err != nil {
		t.Fatal(err)
	}
	d := h.deliveries()
	if len(d) != 1 || string(d[0].body) != `{"b":"<&>","a":[1,2]}` || d[0].method != http.MethodPost ||
		d[0].header.Get("Content-Type") != "application/json" || d[0].header.Get("X-Tenant") != "t1" {
		t.Fatalf("delivery %+v", d)
	}
	e := executions(t, b, jobID)
	var out struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Bytes   int               `json:"bytes"`
	}
	if err := json.Unmarshal(e[0].Steps[0].Output, &out); err != nil || out.Status != 200 || out.Bytes != len(`{"ok":true}`) || out.Headers["X-Receiver"] != "test" {
		t.Fatalf("output %s: %+v %v", e[0].Steps[0].Output, out, err)
	}
}

func TestWebhookSSRFGuard(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := setup(t, worker.Config{})
	jobID := uuid.NewString()
	if err := b.svc.HandleKafka(context.Background(), batch(typedJob(t, jobID, 1, "WEBHOOK", `{"url":"`+srv.URL+`"}`))); err != nil {
		t.Fatal(err)
	}
	e := executions(t, b, jobID)
	if len(e) != 1 || e[0].ErrorCode != worker.CodeStepFailed || !strings.Contains(e[0].Error, "ssrf") || len(h.deliveries()) != 0 {
		t.Fatalf("loopback webhook: %+v, %d deliveries", e, len(h.deliveries()))
	}
}

func TestPipelineChainsOutputs(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"orders":[{"amount":5},{"amount":7}]}`)
	}))
	defer api.Close()
	b := setup(t, worker.Config{HTTPAllowlist: []string{"127.0.0.1/32"}})
	jobID := uuid.NewString()
	src, _ := json.Marshal("t = 0\nfor o in outputs[\"fetch\"][\"body\"][\"orders\"]:\n    t += o[\"amount\"]\nresult = {\"total\": t, \"status\": outputs[\"fetch\"][\"status\"]}")
	payload := `{"steps":[
		{"id":"fetch","action":"HTTP_CALL","url":"` + api.URL + `/orders","headers":{"Authorization":"Bearer t"}},
		{"id":"sum","action":"SCRIPT","source":` + string(src) + `},
		{"action":"LOG","message":"done"},
		{"id":"double","action":"SCRIPT","source":"result = outputs[\"sum\"][\"total\"] * 2"}]}`
	if err := b.svc.HandleKafka(context.Background(), batch(typedJob(t, jobID, 1, "DATA_PIPELINE", payload))); err != nil {
		t.Fatal(err)
	}
	e := executions(t, b, jobID)
	if len(e) != 1 || e[0].Status != "COMPLETED" {
		t.Fatalf("executions %+v", e)
	}
	st := e[0].Steps
	if st[0].ID != "fetch" || !strings.Contains(string(st[0].Output), `"body":{"orders":[{"amount":5},{"amount":7}]}`) ||
		!strings.Contains(string(st[0].Output), `"status":200`) {
		t.Errorf("fetch output %s %s", st[0].ID, st[0].Output)
	}
	if st[1].ID != "sum" || string(st[1].Output) != `{"total":12,"status":200}` {
		t.Errorf("sum output %s %s", st[1].ID, st[1].Output)
	}
	if st[2].Output != nil || st[3].ID != "double" || string(st[3].Output) != `24` {
		t.Errorf("steps %+v", st)
	}
	// The result event carries no outputs: its size does not grow with them.
	envs, _ := read(t, b.brokers, envelope.TopicJobCompleted, 1)
	if strings.Contains(string(envs[0].Payload), "orders") {
		t.Errorf("job-completed carries outputs: %s", envs[0].Payload)
	}
}

func TestPipelineScriptFailures(t *testing.T) {
	b := setup(t, worker.Config{})
	for _, c := range []struct {
		name, source, code, text string
		timeoutMs                int
	}{
		{"infinite loop", "x = 0\nwhile True:\n    x += 1\nresult = x", step.CodeScriptBudget, "more than 10000000 steps", 10000},
		{"wall clock", "l = list(range(100000))\nfor i in range(1000000):\n    l = sorted(l, reverse = True)\nresult = 1", step.CodeScriptBudget, "longer than 500ms", 500},
		{"huge string", "result = len(\"x\" * 1000000000)", step.CodeScriptBudget, "at most", 500},
		{"deep recursion", "def f(n):\n    return f(n + 1)\nresult = f(0)", step.CodeScriptFailed, "line 2", 500},
		{"runtime error", "x = {}\nresult = x[\"missing\"]", step.CodeScriptFailed, "line 2", 500},
		{"missing output", "result = outputs[\"nope\"]", step.CodeScriptFailed, "line 1", 500},
	} {
		t.Run(c.name, func(t *testing.T) {
			jobID := uuid.NewString()
			src, _ := json.Marshal(c.source)
			start := time.Now()
			if err := b.svc.HandleKafka(context.Background(), batch(typedJob(t, jobID, 1, "DATA_PIPELINE",
				`{"steps":[{"id":"s","action":"SCRIPT","timeoutMs":`+strconv.Itoa(c.timeoutMs)+`,"source":`+string(src)+`}]}`))); err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el > time.Duration(c.timeoutMs)*time.Millisecond+3*time.Second {
				t.Errorf("the attempt took %s", el)
			}
			e := executions(t, b, jobID)
			if len(e) != 1 || e[0].ErrorCode != c.code || !strings.Contains(e[0].Error, c.text) {
				t.Fatalf("execution %+v; want %s containing %q", e, c.code, c.text)
			}
		})
	}
}

func TestParseSigningKeys(t *testing.T) {
	for _, c := range []struct {
		in  string
		n   int
		bad string // error contains
	}{
		{"", 0, ""},
		{"a=0123456789abcdef, b = 0123456789abcdefgh", 2, ""},
		{"a=short", 0, `key "a": the secret must be 16 to 1024 bytes`},
		{"a0123456789abcdef", 0, "entry 1 must be name=secret"},
		{"a=0123456789abcdef,a=0123456789abcdef", 0, `"a" appears more than once`},
	} {
		keys, err := worker.ParseSigningKeys(c.in)
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) || strings.Contains(err.Error(), "0123456789abcdef") {
				t.Errorf("%q: %v; want an error containing %q and no secret", c.in, err, c.bad)
			}
			continue
		}
		if err != nil || len(keys) != c.n {
			t.Errorf("%q: %v %v", c.in, keys, err)
		}
	}
	env := config.FromMap(map[string]string{"WEBHOOK_SIGNING_KEYS": "p=0123456789abcdef"})
	if cfg := worker.ConfigFromEnv(env); env.Err() != nil || string(cfg.SigningKeys["p"]) != "0123456789abcdef" {
		t.Fatalf("ConfigFromEnv: %v %v", cfg.SigningKeys, env.Err())
	}
	env = config.FromMap(map[string]string{"WEBHOOK_SIGNING_KEYS": "p=short"})
	if worker.ConfigFromEnv(env); env.Err() == nil || !strings.Contains(env.Err().Error(), "WEBHOOK_SIGNING_KEYS") {
		t.Fatalf("bad keys: %v", env.Err())
	}
}

func TestStepOutputLimits(t *testing.T) {
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"blob":"`+strings.Repeat("x", 2<<20)+`"}`)
	}))
	defer big.Close()
	b := setup(t, worker.Config{HTTPAllowlist: []string{"127.0.0.1/32"}})
	jobID := uuid.NewString()
	// A script result at the output limit, and an HTTP body over it: cut.
	src, _ := json.Marshal(`result = "x" * (65536 - 2)`)
	payload := `{"steps":[{"id":"big","action":"HTTP_CALL","url":"` + big.URL + `"},{"id":"max","action":"SCRIPT","source":` + string(src) + `},
		{"id":"len","action":"SCRIPT","source":"result = [outputs[\"big\"][\"truncated\"], outputs[\"big\"][\"bodyBytes\"], len(outputs[\"max\"])]"}]}`
	if err := b.svc.HandleKafka(context.Background(), batch(typedJob(t, jobID, 1, "DATA_PIPELINE", payload))); err != nil {
		t.Fatal(err)
	}
	e := executions(t, b, jobID)
	if len(e) != 1 || e[0].Status != "COMPLETED" {
		t.Fatalf("%+v", e)
	}
	if n := len(e[0].Steps[0].Output); n > step.MaxOutputBytes {
		t.Errorf("HTTP_CALL output takes %d bytes", n)
	}
	if n := len(e[0].Steps[1].Output); n != 65536 {
		t.Errorf("script output takes %d bytes; want 65536", n)
	}
	if got := string(e[0].Steps[2].Output); got != `[true,2097163,65534]` {
		t.Errorf("len output %s", got)
	}
}
