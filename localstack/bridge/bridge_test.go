package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/localstack/stack"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// invocation is one call the fake Lambda received.
type invocation struct {
	function string
	event    struct {
		EventSource      string `json:"eventSource"`
		EventSourceARN   string `json:"eventSourceArn"`
		BootstrapServers string `json:"bootstrapServers"`
	}
	records []recordRef
	attempt int // of this function, from 1
}

type recordRef struct {
	Topic     string
	Partition int64
	Offset    int64
	EventID   string
}

// reply answers the nth invocation (from 1) of a function.
type reply func(w http.ResponseWriter, n int)

func ok(w http.ResponseWriter, _ int) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte("null"))
}

// fakeLambda speaks the Lambda Invoke REST API:
// POST /2015-03-31/functions/{name}/invocations.
type fakeLambda struct {
	t       *testing.T
	mu      sync.Mutex
	calls   []invocation
	counts  map[string]int
	replies map[string]reply
	// before, if set, runs before a reply, outside the lock.
	before func(inv invocation)
	// api answers the api function's invocations (API Gateway v2 events).
	api func(w http.ResponseWriter, ev events.APIGatewayV2HTTPRequest)
}

func newFakeLambda(t *testing.T) (*fakeLambda, string) {
	f := &fakeLambda{t: t, counts: map[string]int{}, replies: map[string]reply{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeLambda) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix = "/2015-03-31/functions/"
	path, _ := url.PathUnescape(r.URL.EscapedPath())
	if r.Method != http.MethodPost || !strings.HasPrefix(path, prefix) || !strings.HasSuffix(path, "/invocations") {
		http.Error(w, "unexpected "+r.Method+" "+path, http.StatusNotFound)
		return
	}
	if got := r.Header.Get("X-Amz-Invocation-Type"); got != "" && got != "RequestResponse" {
		f.t.Errorf("invocation type %q", got)
	}
	if auth := r.Header.Get("Authorization"); !strings.Contains(auth, "/us-east-1/lambda/aws4_request") {
		f.t.Errorf("Authorization %q is not signed for lambda in us-east-1", auth)
	}
	name := strings.TrimSuffix(strings.TrimPrefix(path, prefix), "/invocations")
	body, _ := io.ReadAll(r.Body)
	if name == "jobweaver-api" {
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(body, &ev); err != nil || f.api == nil {
			f.t.Errorf("api invocation %s: %v", body, err)
			w.Write([]byte("null"))
			return
		}
		f.api(w, ev)
		return
	}
	inv := invocation{function: name}
	var ev struct {
		EventSource      string `json:"eventSource"`
		EventSourceARN   string `json:"eventSourceArn"`
		BootstrapServers string `json:"bootstrapServers"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		f.t.Errorf("invocation payload is not JSON: %v", err)
	}
	inv.event = ev
	kev, err := kafka.DecodeEvent(body)
	if err != nil {
		f.t.Errorf("payload is not a Kafka event: %v", err)
	}
	for _, rec := range kafka.Flatten(kev) {
		env, err := kafka.Decode(rec)
		if err != nil {
			f.t.Errorf("record %s-%d@%d: %v", rec.Topic, rec.Partition, rec.Offset, err)
		}
		inv.records = append(inv.records, recordRef{rec.Topic, rec.Partition, rec.Offset, env.EventID})
	}
	f.mu.Lock()
	f.counts[name]++
	inv.attempt = f.counts[name]
	f.calls = append(f.calls, inv)
	rep := f.replies[name]
	before := f.before
	f.mu.Unlock()
	if before != nil {
		before(inv)
	}
	if rep == nil {
		rep = ok
	}
	rep(w, inv.attempt)
}

func (f *fakeLambda) snapshot() []invocation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// waitFor polls the calls until cond holds.
func (f *fakeLambda) waitFor(t *testing.T, what string, cond func([]invocation) bool) []invocation {
	t.Helper()
	var cs []invocation
	testwait.EventuallyState(t, 30*time.Second, what, func() bool {
		cs = f.snapshot()
		return cond(cs)
	}, func() string { return fmt.Sprintf("calls: %+v", cs) })
	return cs
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startBridge runs the bridge until the test ends and returns its stdout
// and stderr (the logs).
func startBridge(t *testing.T, brokers []string, endpoint string, extra ...string) (stdout, stderr *syncBuffer) {
	t.Helper()
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	args := append([]string{
		"--brokers=" + strings.Join(brokers, ","), "--endpoint=" + endpoint,
		"--batch-window=20ms", "--pollers=1", "--retry-backoff=10ms", "--invoke-timeout=10s", "--http-addr=127.0.0.1:0",
	}, extra...)
	go func() { done <- run(ctx, args, envOf(nil), stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("bridge exit %d; stderr:\n%s", code, stderr)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("bridge did not stop")
		}
	})
	return stdout, stderr
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// produce writes one envelope of typ for jobID and returns it.
func produce(t *testing.T, cl *kgo.Client, typ, jobID string) envelope.Envelope {
	t.Helper()
	var payload any = map[string]any{}
	env, err := envelope.New(typ, uuid.NewString(), jobID, payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(context.Background(), kafka.Record(env)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return env
}

// committed returns a group's committed offsets: "topic-partition" -> offset.
func committed(t *testing.T, brokers []string, group string) map[string]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	out := map[string]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			out[fmt.Sprintf("%s-%d", o.Topic, o.Partition)] = o.At
		}
	})
	return out
}

func waitCommitted(t *testing.T, brokers []string, group string, want map[string]int64) {
	t.Helper()
	var got map[string]int64
	testwait.EventuallyState(t, 15*time.Second, fmt.Sprintf("group %s commits %v", group, want), func() bool {
		got = committed(t, brokers, group)
		return fmt.Sprint(got) == fmt.Sprint(want)
	}, func() string { return fmt.Sprintf("group %s committed %v", group, got) })
}

// Records of every topic reach the function its route names, shaped as a
// Kafka event, and each group commits past them once the invocation
// succeeded.
func TestBridgeDeliversEveryTopicAndCommits(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	prod := kafkatest.Producer(t, brokers)
	fake, endpoint := newFakeLambda(t)

	types := map[string]string{
		envelope.TopicJobCreated:    envelope.TypeJobCreated,
		envelope.TopicJobCompleted:  envelope.TypeJobCompleted,
		envelope.TopicJobFailed:     envelope.TypeJobFailed,
		envelope.TopicRunJob:        envelope.TypeRunJob,
		envelope.TopicJobDeadLetter: envelope.TypeJobDeadLetter,
	}
	sent := map[string]string{} // event ID -> topic
	for _, r := range stack.Routes {
		for i := 0; i < 3; i++ {
			env := produce(t, prod, types[r.Topic], uuid.NewString())
			sent[env.EventID] = r.Topic
		}
	}
	stdout, stderr := startBridge(t, brokers, endpoint)

	calls := fake.waitFor(t, "every record", func(cs []invocation) bool {
		n := 0
		for _, c := range cs {
			n += len(c.records)
		}
		return n >= len(sent)
	})
	wantFn := map[string]string{}
	for _, r := range stack.Routes {
		wantFn[r.Topic] = "jobweaver-" + r.Function
	}
	got := map[string]bool{}
	last := map[string]map[string]int64{} // group -> topic-partition -> offset+1
	for _, c := range calls {
		if c.event.EventSource != "aws:kafka" || c.event.EventSourceARN == "" || c.event.BootstrapServers != strings.Join(brokers, ",") {
			t.Errorf("event header %+v", c.event)
		}
		for _, r := range c.records {
			if wantFn[r.Topic] != c.function {
				t.Errorf("record of %s went to %s; want %s", r.Topic, c.function, wantFn[r.Topic])
			}
			if sent[r.EventID] != r.Topic {
				t.Errorf("unexpected record %+v", r)
			}
			got[r.EventID] = true
			for _, route := range stack.Routes {
				if route.Topic == r.Topic {
					if last[route.Group] == nil {
						last[route.Group] = map[string]int64{}
					}
					k := fmt.Sprintf("%s-%d", r.Topic, r.Partition)
					last[route.Group][k] = max(last[route.Group][k], r.Offset+1)
				}
			}
		}
	}
	if len(got) != len(sent) {
		t.Errorf("%d of %d records delivered", len(got), len(sent))
	}
	for _, r := range stack.Routes {
		waitCommitted(t, brokers, r.Group, last[r.Group])
	}
	if !strings.Contains(stdout.String(), "run-job          -> jobweaver-worker") {
		t.Errorf("summary:\n%s", stdout)
	}
	if !strings.Contains(stderr.String(), "msg=invoked function=jobweaver-scheduler") {
		t.Errorf("no invocation logged:\n%s", stderr)
	}
}

// A function error and every kind of bad answer from the Lambda endpoint
// fail the batch: it is logged, retried whole (same records, same
// offsets) and nothing is committed until an invocation succeeds.
func TestBridgeRetriesFailedInvocations(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	prod := kafkatest.Producer(t, brokers)
	fake, endpoint := newFakeLambda(t)
	const group = "jobweaver-worker-run-job"

	steps := []struct {
		what  string
		reply reply
		log   string // in the retry's log line
	}{
		{"function error", func(w http.ResponseWriter, _ int) {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			w.Write([]byte(`{"errorMessage":"relay failed: broker down","errorType":"errorString"}`))
		}, `invoke: worker (jobweaver-worker) failed: errorString: relay failed: broker down`},
		{"error payload without the header", func(w http.ResponseWriter, _ int) {
			w.Write([]byte(`{"errorMessage":"Task timed out after 60.00 seconds","errorType":"Sandbox.Timedout"}`))
		}, `failed: Sandbox.Timedout: Task timed out after 60.00 seconds`},
		{"payload not JSON", func(w http.ResponseWriter, _ int) {
			w.Write([]byte(`<html>upstream hiccup</html>`))
		}, `malformed response from Lambda (status 200, payload is not JSON): \"<html>upstream hiccup</html>\"`},
		{"service error", func(w http.ResponseWriter, _ int) {
			w.Header().Set("X-Amzn-Errortype", "ServiceException")
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"Type":"Service","message":"LocalStack is restarting"}`))
		}, `the Lambda endpoint failed the call: operation error Lambda: Invoke, exceeded maximum number of attempts, 1, https response error StatusCode: 500, RequestID: , ServiceException: LocalStack is restarting`},
		{"bad gateway, HTML", func(w http.ResponseWriter, _ int) {
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte(`<html><body>502 Bad Gateway</body></html>`))
		}, `the Lambda endpoint failed the call: operation error Lambda: Invoke, exceeded maximum number of attempts, 1, https response error StatusCode: 502`},
		{"truncated response", func(w http.ResponseWriter, _ int) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`{"statusCode":`))
			hijackAndClose(w, true)
		}, `the Lambda endpoint failed the call: operation error Lambda: Invoke, https response error StatusCode: 200, RequestID: , deserialization failed, unexpected EOF`},
		{"connection dropped before an answer", func(w http.ResponseWriter, _ int) {
			hijackAndClose(w, false)
		}, `the Lambda endpoint failed the call: operation error Lambda: Invoke, exceeded maximum number of attempts, 1, https response error StatusCode: 0, RequestID: , request send failed`},
	}
	var checkMu sync.Mutex
	var commitsBefore []map[string]int64
	fake.replies["jobweaver-worker"] = func(w http.ResponseWriter, n int) {
		if n <= len(steps) {
			steps[n-1].reply(w, n)
			return
		}
		ok(w, n)
	}
	fake.before = func(inv invocation) {
		if inv.function != "jobweaver-worker" {
			return
		}
		// What the group has committed when this attempt arrives.
		c := committed(t, brokers, group)
		checkMu.Lock()
		commitsBefore = append(commitsBefore, c)
		checkMu.Unlock()
	}

	job := uuid.NewString() // one key: one partition, in order
	var sent []envelope.Envelope
	for i := 0; i < 3; i++ {
		sent = append(sent, produce(t, prod, envelope.TypeRunJob, job))
	}
	_, stderr := startBridge(t, brokers, endpoint, "--batch-window=300ms")

	calls := fake.waitFor(t, "the retries and a success", func(cs []invocation) bool {
		n := 0
		for _, c := range cs {
			if c.function == "jobweaver-worker" {
				n++
			}
		}
		return n > len(steps)
	})
	var worker []invocation
	for _, c := range calls {
		if c.function == "jobweaver-worker" {
			worker = append(worker, c)
		}
	}
	first := worker[0].records
	if len(first) != len(sent) {
		t.Fatalf("first batch has %d records; want %d", len(first), len(sent))
	}
	for i, c := range worker[:len(steps)+1] {
		if fmt.Sprint(c.records) != fmt.Sprint(first) {
			t.Errorf("attempt %d (%s) carried %v; want the same batch %v", i+1, stepName(steps, i), c.records, first)
		}
	}
	for i, e := range sent {
		if first[i].EventID != e.EventID {
			t.Errorf("record %d is %s; want %s, in order", i, first[i].EventID, e.EventID)
		}
	}
	checkMu.Lock()
	for i, c := range commitsBefore[:len(steps)+1] {
		if len(c) != 0 {
			t.Errorf("before attempt %d (%s) the group had committed %v; want nothing", i+1, stepName(steps, i), c)
		}
	}
	checkMu.Unlock()
	last := first[len(first)-1]
	waitCommitted(t, brokers, group, map[string]int64{fmt.Sprintf("%s-%d", last.Topic, last.Partition): last.Offset + 1})

	logs := stderr.String()
	retries := strings.Count(logs, "invocation failed; retrying the same batch")
	if retries != len(steps) {
		t.Errorf("%d retries logged; want %d:\n%s", retries, len(steps), logs)
	}
	for _, s := range steps {
		if !strings.Contains(logs, s.log) {
			t.Errorf("%s: the log does not say %q:\n%s", s.what, s.log, logs)
		}
	}
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "partitions=run-job-") {
		t.Errorf("retries are not logged as warnings naming the partitions:\n%s", logs)
	}
}

func stepName(steps []struct {
	what  string
	reply reply
	log   string
}, i int) string {
	if i < len(steps) {
		return steps[i].what
	}
	return "success"
}

// hijackAndClose drops the connection without finishing the response,
// after sending what was written so far if flush.
func hijackAndClose(w http.ResponseWriter, flush bool) {
	if f, ok := w.(http.Flusher); ok && flush {
		f.Flush()
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestBridgeSettings(t *testing.T) {
	run1 := func(env map[string]string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, envOf(env), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, _, errOut := run1(nil, "--help")
	if code != 0 || !strings.Contains(errOut, "--brokers, LOCALSTACK_KAFKA_BROKERS (default localhost:19092)") ||
		!strings.Contains(errOut, "--endpoint, LOCALSTACK_ENDPOINT (default http://localhost:4566)") {
		t.Errorf("--help: exit %d\n%s", code, errOut)
	}
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"ESM_BATCH_SIZE": "0"}, nil, `localstack-bridge: config: ESM_BATCH_SIZE must be an integer from 1 to 10000 (got "0")`},
		{nil, []string{"--batch-window=soon"}, `localstack-bridge: config: ESM_BATCH_WINDOW must be a duration from 0s to 5m0s, such as 500ms or 2m (got "soon")`},
		{map[string]string{"KAFKA_AUTH": "gssapi"}, nil, `localstack-bridge: config: KAFKA_AUTH must be one of none, tls, iam or scram (got "gssapi")`},
	} {
		code, out, errOut := run1(c.env, c.args...)
		if code != 2 || strings.TrimSpace(errOut) != c.want || out != "" {
			t.Errorf("%v %v: exit %d, stderr %q; want 2, %q", c.env, c.args, code, errOut, c.want)
		}
	}
	code, _, errOut = run1(map[string]string{"LOCALSTACK_AUTH_TOKEN": "x"})
	if code != 2 || !strings.Contains(errOut, "--force") {
		t.Errorf("with a Pro token: exit %d, %q", code, errOut)
	}

	// Brokers that do not answer: one line, at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	old := kafkaTimeout
	kafkaTimeout = time.Second
	defer func() { kafkaTimeout = old }()
	code, _, errOut = run1(nil, "--brokers="+addr)
	if code != 1 || !strings.HasPrefix(errOut, "localstack-bridge: Kafka at "+addr+" does not answer") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("no brokers: exit %d, %q", code, errOut)
	}
}

func TestMappingsFollowSettings(t *testing.T) {
	env := map[string]string{"FUNCTION_PREFIX": "dev-", "ESM_BATCH_SIZE": "7", "ESM_BATCH_WINDOW": "2s"}
	fs := newFlagSet()
	s := stack.Bind(fs, vars)
	if err := fs.Parse([]string{"--worker-function=custom-worker", "--pollers=3"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := resolve(s.Env(fs, envOf(env)), envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != stack.BridgeAPIAddr || cfg.Functions["api"] != "dev-api" {
		t.Errorf("HTTP front %q for %q", cfg.HTTPAddr, cfg.Functions["api"])
	}
	off, err := resolve(s.Env(fs, envOf(map[string]string{"LOCALSTACK_API_ADDR": "off"})), envOf(nil))
	if err != nil || off.HTTPAddr != "" {
		t.Errorf("LOCALSTACK_API_ADDR=off: %q, %v", off.HTTPAddr, err)
	}
	ms := mappings(cfg, nil, nil, nil)
	if len(ms) != len(stack.Routes) {
		t.Fatalf("%d mappings", len(ms))
	}
	for _, m := range ms {
		want := map[string]string{"scheduler": "dev-scheduler", "worker": "custom-worker", "dlq": "dev-dlq"}[m.Function]
		// The worker's batches may run as long as the attempts the api
		// accepts; the others have the functions' timeout.
		timeout := 90 * time.Second
		if m.Function == "worker" {
			timeout = 15 * time.Minute
		}
		if cfg.Functions[m.Function] != want || m.BatchSize != 7 || m.Window != 2*time.Second || m.Pollers != 3 ||
			m.Brokers[0] != stack.HostBrokers || m.RetryBackoff != 200*time.Millisecond || m.FunctionTimeout != timeout {
			t.Errorf("mapping %+v (function %s)", m, cfg.Functions[m.Function])
		}
	}
}

func newFlagSet() *flag.FlagSet { return flag.NewFlagSet("bridge", flag.ContinueOnError) }

// The HTTP front turns requests into API Gateway v2 (payload 2.0) events
// for the api function and writes its responses back; a failed invocation
// is a 500 in the API's error shape, not a hang or a crash.
func TestBridgeServesTheAPI(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	fake, endpoint := newFakeLambda(t)
	fake.api = func(w http.ResponseWriter, ev events.APIGatewayV2HTTPRequest) {
		switch ev.RawPath {
		case "/api/jobs":
			if ev.Version != "2.0" || ev.RequestContext.HTTP.Method != "POST" || ev.Body != `{"jobType":"SIMULATION"}` ||
				ev.Headers["content-type"] != "application/json" || ev.RawQueryString != "dry=1" {
				t.Errorf("event %+v", ev)
			}
			_ = json.NewEncoder(w).Encode(events.APIGatewayV2HTTPResponse{
				StatusCode: 202, Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"jobId":"j-1"}`,
			})
		case "/api/boom":
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			w.Write([]byte(`{"errorMessage":"panic: boom","errorType":"Runtime.ExitError"}`))
		default:
			t.Errorf("unexpected path %s", ev.RawPath)
		}
	}
	stdout, stderr := startBridge(t, brokers, endpoint)
	var apiURL, summary string
	testwait.EventuallyState(t, 10*time.Second, "an API address in the summary", func() bool {
		summary = stdout.String()
		for _, l := range strings.Split(summary, "\n") {
			if f := strings.Fields(l); len(f) > 2 && f[0] == "API" {
				apiURL = f[1]
			}
		}
		return apiURL != ""
	}, func() string { return "the summary:\n" + summary })

	resp, err := http.Post(apiURL+"/api/jobs?dry=1", "application/json", strings.NewReader(`{"jobType":"SIMULATION"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 || string(body) != `{"jobId":"j-1"}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("POST /api/jobs: %d %s %v", resp.StatusCode, body, resp.Header)
	}

	resp, err = http.Get(apiURL + "/api/boom")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var apiErr struct {
		Status    int    `json:"status"`
		ErrorCode string `json:"errorCode"`
	}
	if resp.StatusCode != 500 || json.Unmarshal(body, &apiErr) != nil || apiErr.ErrorCode != "API.INTERNAL_ERROR" {
		t.Errorf("GET /api/boom: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(stderr.String(), "Runtime.ExitError: panic: boom") {
		t.Errorf("the failed invocation is not logged:\n%s", stderr)
	}
}
