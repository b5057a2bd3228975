package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/pgserver"
	"github.com/jobweaver/jobweaver/shared/tracing"
	"github.com/jobweaver/jobweaver/shared/trigger"
)

func TestConfigDefaults(t *testing.T) {
	cfg, err := ConfigFromEnv(config.FromMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		DataDir: ".data", DatabaseURL: pgserver.DefaultURL, KafkaPort: 9092,
		APIAddr: "127.0.0.1:8080", SchedulerAddr: "127.0.0.1:8081", WorkerAddr: "127.0.0.1:8082",
		DashboardDir: "dashboard/dist",
		TickInterval: time.Second, ESMBatchSize: 100, ESMBatchWindow: 2 * time.Millisecond, ESMPollers: 1, RunJobPollers: 2, RunJobBatchSize: 500,
		FunctionTimeout: 60 * time.Second, APIBodyLimit: 262144, APIMaxConns: DefaultMaxConns, DBMaxConns: 20, DatabasePrefix: "jobweaver",
		WorkerTimeout: 840 * time.Second,
		// Tracing on at 1 % (docs/tracing.md, Overhead).
		Tracing: tracing.Config{Sampler: tracing.DefaultSampler, Ratio: tracing.DefaultRatio, StoreSpans: tracing.DefaultStoreSpans},
	}
	got := cfg
	got.API, got.Scheduler, got.Worker, got.DLQ = want.API, want.Scheduler, want.Worker, want.DLQ
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n%+v\nwant\n%+v", got, want)
	}
	if len(cfg.Kafka.Brokers) != 0 {
		t.Errorf("Kafka.Brokers = %v; want none (embedded)", cfg.Kafka.Brokers)
	}
}

func TestConfigFromEnv(t *testing.T) {
	cfg, err := ConfigFromEnv(config.FromMap(map[string]string{
		"DATA_DIR": "/tmp/x", "KAFKA_BROKERS": "a:9092, b:9092", "TICK_INTERVAL": "250ms",
		"ESM_BATCH_SIZE": "10", "ESM_BATCH_WINDOW": "0s", "ESM_POLLERS": "3", "FUNCTION_TIMEOUT": "5s",
		"DASHBOARD_DIR": "/srv/dist",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/tmp/x" || strings.Join(cfg.Kafka.Brokers, "|") != "a:9092|b:9092" || cfg.TickInterval != 250*time.Millisecond ||
		cfg.ESMBatchSize != 10 || cfg.ESMBatchWindow != 0 || cfg.ESMPollers != 3 || cfg.RunJobPollers != 3 || cfg.FunctionTimeout != 5*time.Second ||
		cfg.DashboardDir != "/srv/dist" {
		t.Errorf("cfg = %+v", cfg)
	}
}

// KAFKA_AUTH and its settings are read with KAFKA_BROKERS, and only then:
// the embedded broker is plaintext.
func TestConfigKafkaAuth(t *testing.T) {
	scram := map[string]string{"KAFKA_AUTH": "scram", "KAFKA_TLS_CA_FILE": "/ca.pem",
		"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}
	with := map[string]string{"KAFKA_BROKERS": "b:9096"}
	maps.Copy(with, scram)
	cfg, err := ConfigFromEnv(config.FromMap(with))
	if err != nil {
		t.Fatal(err)
	}
	want := kafka.Config{Brokers: []string{"b:9096"}, Auth: kafka.AuthSCRAM, TLSCAFile: "/ca.pem",
		SASLMechanism: kafka.MechanismSCRAMSHA512, SASLUsername: "u", SASLPassword: "p"}
	if !reflect.DeepEqual(cfg.Kafka, want) {
		t.Errorf("Kafka = %+v; want %+v", cfg.Kafka, want)
	}
	if cfg, err := ConfigFromEnv(config.FromMap(scram)); err != nil || !reflect.DeepEqual(cfg.Kafka, kafka.Config{}) {
		t.Errorf("without KAFKA_BROKERS: Kafka = %+v, %v; want the zero Config (embedded)", cfg.Kafka, err)
	}
	_, err = ConfigFromEnv(config.FromMap(map[string]string{"KAFKA_BROKERS": "b:9096", "KAFKA_AUTH": "scram"}))
	if err == nil || !strings.Contains(err.Error(), "KAFKA_SASL_USERNAME") {
		t.Errorf("scram without a user: %v", err)
	}
}

// The functions run elsewhere get the brokers and, when they want it,
// KAFKA_AUTH and its settings.
func TestKafkaEnv(t *testing.T) {
	for _, c := range []struct {
		cfg  kafka.Config
		want map[string]string
	}{
		{kafka.Config{Brokers: []string{"a:1", "b:2"}}, map[string]string{"KAFKA_BROKERS": "a:1,b:2"}},
		{kafka.Config{Brokers: []string{"a:1"}, Auth: "NONE", TLSCAFile: "/ca.pem"}, map[string]string{"KAFKA_BROKERS": "a:1"}},
		{kafka.Config{Brokers: []string{"a:1"}, Auth: kafka.AuthTLS, TLSCAFile: "/ca.pem"},
			map[string]string{"KAFKA_BROKERS": "a:1", "KAFKA_AUTH": "tls", "KAFKA_TLS_CA_FILE": "/ca.pem"}},
		{kafka.Config{Brokers: []string{"a:1"}, Auth: kafka.AuthSCRAM, SASLMechanism: "SCRAM-SHA-256", SASLUsername: "u", SASLPassword: "p"},
			map[string]string{"KAFKA_BROKERS": "a:1", "KAFKA_AUTH": "scram", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
				"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}},
	} {
		if got := kafkaEnv(c.cfg); !reflect.DeepEqual(got, c.want) {
			t.Errorf("kafkaEnv(%+v) = %v; want %v", c.cfg, got, c.want)
		}
		// The function reads the same settings back.
		env := config.FromMap(c.want)
		if back := kafka.ConfigFromEnv(env, ""); env.Err() != nil || !reflect.DeepEqual(kafkaEnv(back), c.want) {
			t.Errorf("%v reads back as %+v, %v", c.want, back, env.Err())
		}
	}
}

// A one-shot invocation reaches a running stack's brokers as that stack
// does, with its own settings of the same KAFKA_AUTH.
func TestRunningKafka(t *testing.T) {
	own := kafka.Config{Brokers: []string{"mine:9096"}, Auth: "SCRAM", SASLUsername: "u", SASLPassword: "p"}
	got, err := runningKafka(state{Brokers: []string{"b:9092"}}, own)
	if err != nil || !reflect.DeepEqual(got, kafka.Config{Brokers: []string{"b:9092"}}) {
		t.Errorf("plaintext stack: %+v, %v; want its brokers, plaintext", got, err)
	}
	got, err = runningKafka(state{Brokers: []string{"b:9096"}, KafkaAuth: kafka.AuthSCRAM}, own)
	if want := (kafka.Config{Brokers: []string{"b:9096"}, Auth: "SCRAM", SASLUsername: "u", SASLPassword: "p"}); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("scram stack: %+v, %v; want %+v", got, err, want)
	}
	_, err = runningKafka(state{PID: 7, Brokers: []string{"b:9096"}, KafkaAuth: kafka.AuthSCRAM}, kafka.Config{})
	if err == nil || !strings.Contains(err.Error(), "KAFKA_AUTH=scram") || !strings.Contains(err.Error(), "pid 7") {
		t.Errorf("scram stack, no settings here: %v", err)
	}
}

func TestConfigBadValueNamesTheVariable(t *testing.T) {
	for name, value := range map[string]string{
		"TICK_INTERVAL":        "soon",
		"ESM_BATCH_SIZE":       "0",
		"ESM_BATCH_WINDOW":     "-1s",
		"ESM_POLLERS":          "many",
		"FUNCTION_TIMEOUT":     "1ms",
		"API_BODY_LIMIT_BYTES": "x",
		"DB_MAX_CONNS":         "0",
		"API_MAX_CONNS":        "15",
		"API_MAX_IN_FLIGHT":    "0",
		"LOG_LEVEL":            "loud",
		"METRICS":              "statsd",
	} {
		_, err := ConfigFromEnv(config.FromMap(map[string]string{name: value}))
		if err == nil || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%s: err = %v; want one line naming %s", name, value, err, name)
		}
	}
}

func TestVarsDocumentEveryStackVariable(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range Vars {
		if v.Help == "" || seen[v.Name] {
			t.Errorf("variable %s: empty help or listed twice", v.Name)
		}
		seen[v.Name] = true
	}
	for _, n := range []string{"DATA_DIR", "DATABASE_URL", "KAFKA_BROKERS", "API_ADDR", "SCHEDULER_ADDR", "WORKER_ADDR",
		"TICK_INTERVAL", "ESM_BATCH_SIZE", "ESM_BATCH_WINDOW", "ESM_POLLERS", "FUNCTION_TIMEOUT", "API_BODY_LIMIT_BYTES"} {
		if !seen[n] {
			t.Errorf("%s is not documented in Vars", n)
		}
	}
}

// echo is a fake function answering every HTTP event with what it got.
func echo(t *testing.T) (*invoke.Local, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	inv := &invoke.Local{}
	inv.Register("fn", lambda.NewHandler(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		calls.Add(1)
		if strings.HasSuffix(ev.RawPath, "/boom") {
			return events.APIGatewayV2HTTPResponse{}, errors.New("handler exploded with SQL text")
		}
		if strings.HasSuffix(ev.RawPath, "/slow") {
			<-ctx.Done()
			return events.APIGatewayV2HTTPResponse{}, ctx.Err()
		}
		b, _ := json.Marshal(map[string]any{"method": ev.RequestContext.HTTP.Method, "path": ev.RawPath, "query": ev.RawQueryString,
			"body": ev.Body, "trace": ev.Headers["x-trace-id"], "secret": ev.Headers[strings.ToLower(InternalSecretHeader)], "routeKey": ev.RouteKey, "stage": ev.RequestContext.Stage})
		return events.APIGatewayV2HTTPResponse{StatusCode: 201, Headers: map[string]string{"Content-Type": "application/json", "X-Custom": "1"},
			Cookies: []string{"a=b"}, Body: string(b)}, nil
	}))
	return inv, &calls
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) apierror.Body {
	t.Helper()
	var b apierror.Body
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("error body %q: %v", rec.Body.String(), err)
	}
	if b.Status != rec.Code || b.TraceID == "" || b.Timestamp.IsZero() || b.Message == "" {
		t.Errorf("incomplete error body %+v (status %d)", b, rec.Code)
	}
	if rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("error content type %q", rec.Header().Get("Content-Type"))
	}
	return b
}

func TestFrontCarriesRequestAndResponse(t *testing.T) {
	inv, _ := echo(t)
	f := &Front{Invoker: inv, Function: "fn", Namespace: "API", BodyLimit: 1024, Timeout: time.Minute}
	req := httptest.NewRequest("POST", "/api/jobs?x=1&y=2", strings.NewReader(`{"a":1}`))
	req.Header.Set("X-Trace-Id", "trace-1")
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, req)
	if rec.Code != 201 || rec.Header().Get("X-Custom") != "1" || rec.Header().Get("Set-Cookie") != "a=b" {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"method": "POST", "path": "/api/jobs", "query": "x=1&y=2", "body": `{"a":1}`, "trace": "trace-1", "routeKey": "$default", "stage": "$default"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q; want %q", k, got[k], v)
		}
	}
}

func TestFrontAnswers413ForOversizedBodies(t *testing.T) {
	inv, calls := echo(t)
	f := &Front{Invoker: inv, Function: "fn", Namespace: "API", BodyLimit: 1024}
	// Just over the function's limit: carried, so the function answers.
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest("POST", "/api/jobs", bytes.NewReader(make([]byte, 2000))))
	if rec.Code != 201 || calls.Load() != 1 {
		t.Fatalf("a body within the slack: status %d, %d calls; want it carried", rec.Code, calls.Load())
	}
	// Far over: 413 from the front, without invoking.
	rec = httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest("POST", "/api/jobs", bytes.NewReader(make([]byte, 1024+bodySlack+1))))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d; want 413", rec.Code)
	}
	if b := decodeError(t, rec); b.ErrorCode != "API.PAYLOAD_TOO_LARGE" || !strings.Contains(b.Message, "1024") {
		t.Errorf("body %+v", b)
	}
	if calls.Load() != 1 {
		t.Errorf("the function was invoked for an oversized body")
	}
}

// local makes req come from this machine (httptest's default peer is
// 192.0.2.1).
func local(req *http.Request) *http.Request {
	req.RemoteAddr = "127.0.0.1:40000"
	return req
}

func TestFrontErrors(t *testing.T) {
	inv, _ := echo(t)
	f := &Front{Invoker: inv, Function: "fn", Namespace: "SCHEDULER", Internal: true, BodyLimit: 1024, Timeout: 20 * time.Millisecond}

	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, local(httptest.NewRequest("GET", "/api/jobs", nil)))
	if b := decodeError(t, rec); rec.Code != 404 || b.ErrorCode != "SCHEDULER.NOT_FOUND" {
		t.Errorf("public route on an internal front: %d %+v", rec.Code, b)
	}
	for _, p := range []string{"/internal/jobs", "/actuator/health", "/health"} {
		rec = httptest.NewRecorder()
		f.ServeHTTP(rec, local(httptest.NewRequest("GET", p, nil)))
		if rec.Code != 201 {
			t.Errorf("%s on an internal front: %d; want it carried", p, rec.Code)
		}
	}

	rec = httptest.NewRecorder()
	req := local(httptest.NewRequest("GET", "/internal/boom", nil))
	req.Header.Set("X-Trace-Id", "trace-2")
	f.ServeHTTP(rec, req)
	b := decodeError(t, rec)
	if rec.Code != 500 || b.ErrorCode != "SCHEDULER.INTERNAL_ERROR" || strings.Contains(b.Message, "SQL") || b.TraceID != "trace-2" {
		t.Errorf("function error: %d %+v", rec.Code, b)
	}

	rec = httptest.NewRecorder()
	f.ServeHTTP(rec, local(httptest.NewRequest("GET", "/internal/slow", nil)))
	if b := decodeError(t, rec); rec.Code != 504 || b.ErrorCode != "SCHEDULER.GATEWAY_TIMEOUT" {
		t.Errorf("timeout: %d %+v", rec.Code, b)
	}

	rec = httptest.NewRecorder()
	(&Front{Invoker: inv, Function: "missing", Namespace: "WORKER"}).ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if b := decodeError(t, rec); rec.Code != 500 || b.ErrorCode != "WORKER.INTERNAL_ERROR" {
		t.Errorf("missing function: %d %+v", rec.Code, b)
	}
}

func TestInternalFrontAnswersOnlyLoopbackAndNeedsTheSecret(t *testing.T) {
	inv, calls := echo(t)
	f := &Front{Invoker: inv, Function: "fn", Namespace: "SCHEDULER", Internal: true, Secret: "s3cret", BodyLimit: 1024, Timeout: time.Minute}
	tests := []frontCase{
		{"read from IPv4 loopback", "127.0.0.1:5000", "GET", "/internal/jobs", "", 201, ""},
		{"read from another loopback address", "127.0.0.2:5000", "GET", "/actuator/health", "", 201, ""},
		{"read from IPv6 loopback", "[::1]:5000", "GET", "/internal/jobs", "", 201, ""},
		{"read from IPv4-mapped loopback", "[::ffff:127.0.0.1]:5000", "GET", "/internal/jobs", "", 201, ""},
		{"read from the network", "192.168.1.20:5000", "GET", "/internal/jobs", "", 403, "SCHEDULER.FORBIDDEN"},
		{"health from the network", "10.0.0.7:5000", "GET", "/health", "", 403, "SCHEDULER.FORBIDDEN"},
		{"cancel from the network, with the secret", "[2001:db8::1]:5000", "POST", "/internal/jobs/x/cancel", "s3cret", 403, "SCHEDULER.FORBIDDEN"},
		{"unparsable peer", "somewhere", "GET", "/internal/jobs", "", 403, "SCHEDULER.FORBIDDEN"},
		{"cancel without the secret", "127.0.0.1:5000", "POST", "/internal/jobs/x/cancel", "", 403, "SCHEDULER.FORBIDDEN"},
		{"cancel with a wrong secret", "127.0.0.1:5000", "POST", "/internal/jobs/x/cancel", "s3cre", 403, "SCHEDULER.FORBIDDEN"},
		{"cancel with the secret", "127.0.0.1:5000", "POST", "/internal/jobs/x/cancel", "s3cret", 201, ""},
		{"delete without the secret", "[::1]:5000", "DELETE", "/internal/jobs/x", "", 403, "SCHEDULER.FORBIDDEN"},
	}
	runFront(t, f, calls, tests)
	// With auth on (SecretOnReads), reads need the secret too, health aside.
	f = &Front{Invoker: inv, Function: "fn", Namespace: "SCHEDULER", Internal: true, Secret: "s3cret", SecretOnReads: true, BodyLimit: 1024, Timeout: time.Minute}
	runFront(t, f, calls, []frontCase{
		{"auth on: read without the secret", "127.0.0.1:5000", "GET", "/internal/jobs", "", 403, "SCHEDULER.FORBIDDEN"},
		{"auth on: read with a wrong secret", "127.0.0.1:5000", "GET", "/internal/jobs", "s3cre", 403, "SCHEDULER.FORBIDDEN"},
		{"auth on: read with the secret", "127.0.0.1:5000", "GET", "/internal/jobs", "s3cret", 201, ""},
		{"auth on: health without the secret", "127.0.0.1:5000", "GET", "/actuator/health", "", 201, ""},
		{"auth on: cancel without the secret", "127.0.0.1:5000", "POST", "/internal/jobs/x/cancel", "", 403, "SCHEDULER.FORBIDDEN"},
		{"auth on: cancel with the secret", "127.0.0.1:5000", "POST", "/internal/jobs/x/cancel", "s3cret", 201, ""},
		{"auth on: read from the network, with the secret", "192.168.1.20:5000", "GET", "/internal/jobs", "s3cret", 403, "SCHEDULER.FORBIDDEN"},
	})

	// The public API's front takes any peer, and strips the header too.
	api := &Front{Invoker: inv, Function: "fn", Namespace: "API", Secret: "s3cret", BodyLimit: 1024}
	req := httptest.NewRequest("POST", "/api/jobs", strings.NewReader("{}"))
	req.Header.Set(InternalSecretHeader, "s3cret")
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	var got map[string]string
	if rec.Code != 201 || json.Unmarshal(rec.Body.Bytes(), &got) != nil || got["secret"] != "" {
		t.Fatalf("API front from %s: %d %s", req.RemoteAddr, rec.Code, rec.Body)
	}
}

func TestScheduledEvent(t *testing.T) {
	at := time.Date(2026, 11, 29, 10, 0, 0, 123, time.UTC)
	b, err := json.Marshal(ScheduledEvent(at))
	if err != nil {
		t.Fatal(err)
	}
	if k, err := trigger.Detect(b); err != nil || k != trigger.Schedule {
		t.Fatalf("Detect = %s, %v", k, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
		"account": "000000000000", "region": "us-east-1", "time": "2026-11-29T10:00:00Z"} {
		if m[k] != want {
			t.Errorf("%s = %v; want %v", k, m[k], want)
		}
	}
	if d, ok := m["detail"].(map[string]any); !ok || len(d) != 0 {
		t.Errorf("detail = %v; want {}", m["detail"])
	}
	if r, ok := m["resources"].([]any); !ok || len(r) != 1 || r[0] != ScheduleRuleARN {
		t.Errorf("resources = %v", m["resources"])
	}
	if id, _ := m["id"].(string); id == "" {
		t.Errorf("no id")
	}
}

func TestTickerNeverOverlapsAndSetsTheDeadline(t *testing.T) {
	const interval = 10 * time.Millisecond
	var (
		mu        sync.Mutex
		running   int
		overlap   bool
		n         int
		badDL     bool
		done      = make(chan struct{})
		closeOnce sync.Once
	)
	inv := &invoke.Local{}
	inv.Register(invoke.Scheduler, lambda.NewHandler(func(ctx context.Context, ev events.EventBridgeEvent) error {
		dl, ok := ctx.Deadline()
		mu.Lock()
		running++
		overlap = overlap || running > 1
		badDL = badDL || !ok || time.Until(dl) > interval
		n++
		count := n
		mu.Unlock()
		if ev.DetailType != "Scheduled Event" {
			t.Errorf("detail-type %q", ev.DetailType)
		}
		// Run past the deadline and beyond a few intervals.
		<-ctx.Done()
		time.Sleep(3 * interval)
		mu.Lock()
		running--
		mu.Unlock()
		if count >= 5 {
			closeOnce.Do(func() { close(done) })
		}
		return nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	tk := &Ticker{Invoker: inv, Function: invoke.Scheduler, Interval: interval, Log: discardLog()}
	go func() { tk.Run(ctx); close(stopped) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("fewer than 5 ticks in a minute")
	}
	cancel()
	<-stopped
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Error("tick invocations overlapped")
	}
	if badDL {
		t.Error("a tick had no deadline, or one beyond the interval")
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// invokerFunc adapts a function to invoke.Invoker.
type invokerFunc func(ctx context.Context, fn string, payload []byte) ([]byte, error)

func (f invokerFunc) Invoke(ctx context.Context, fn string, payload []byte) ([]byte, error) {
	return f(ctx, fn, payload)
}

// A function that runs as Lambda fails with typed errors; the front
// answers an oversized response 502 and a timeout 504, at once.
func TestFrontMapsLambdaFunctionErrors(t *testing.T) {
	cases := []struct {
		errType string
		status  int
		code    string
	}{
		{invoke.ErrorTypeResponseTooLarge, 502, "SCHEDULER.RESPONSE_TOO_LARGE"},
		{invoke.ErrorTypeTimeout, 504, "SCHEDULER.GATEWAY_TIMEOUT"},
		{"Runtime.ExitError", 500, "SCHEDULER.INTERNAL_ERROR"},
	}
	for _, c := range cases {
		inv := invokerFunc(func(context.Context, string, []byte) ([]byte, error) {
			return nil, &invoke.FunctionError{Function: "scheduler", Name: "s", Type: c.errType, Message: "m"}
		})
		f := &Front{Invoker: inv, Function: "scheduler", Namespace: "SCHEDULER", Internal: true, Log: discardLog()}
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, local(httptest.NewRequest("GET", "/internal/jobs?size=100", nil)))
		if b := decodeError(t, rec); rec.Code != c.status || b.ErrorCode != c.code {
			t.Errorf("%s: %d %+v", c.errType, rec.Code, b)
		}
	}
}

// A ticker with a Timeout bounds each tick by it, not by the interval.
func TestTickerTimeout(t *testing.T) {
	var left time.Duration
	inv := invokerFunc(func(ctx context.Context, _ string, _ []byte) ([]byte, error) {
		dl, _ := ctx.Deadline()
		left = time.Until(dl)
		return nil, nil
	})
	tk := &Ticker{Invoker: inv, Function: invoke.Scheduler, Interval: 10 * time.Millisecond, Timeout: time.Minute}
	if err := tk.Once(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if left < 50*time.Second {
		t.Fatalf("tick deadline %v away; want the Timeout (1m)", left)
	}
}

func TestAPanickingFunctionIsAnErrorNotACrash(t *testing.T) {
	inv := invokerFunc(func(context.Context, string, []byte) ([]byte, error) { panic("handler bug") })
	f := &Front{Invoker: inv, Function: "scheduler", Namespace: "SCHEDULER", Internal: true, Log: discardLog()}
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, local(httptest.NewRequest("GET", "/internal/jobs", nil)))
	if b := decodeError(t, rec); rec.Code != 500 || b.ErrorCode != "SCHEDULER.INTERNAL_ERROR" || strings.Contains(b.Message, "handler bug") {
		t.Errorf("front: %d %+v; want a 500 that does not leak the panic", rec.Code, b)
	}
	tk := &Ticker{Invoker: inv, Function: invoke.Scheduler, Interval: time.Second, Log: discardLog()}
	if err := tk.Once(context.Background(), time.Now()); err == nil || !strings.Contains(err.Error(), "panicked: handler bug") {
		t.Errorf("tick: %v; want the panic as an error", err)
	}
}

// The limits agree: the worker's timeout runs every attempt the api
// accepts, and in-flight work follows what the workers take.
func TestConfigLimitsAgree(t *testing.T) {
	tests := []struct {
		name     string
		vars     map[string]string
		inFlight int
		err      string
	}{
		{"defaults", nil, 2 * 2 * 500, ""},
		{"pollers and batches", map[string]string{"ESM_RUN_JOB_BATCH_SIZE": "16", "ESM_POLLERS": "3"}, 2 * 3 * 16, ""},
		{"run-job pollers", map[string]string{"ESM_RUN_JOB_BATCH_SIZE": "16", "ESM_POLLERS": "3", "ESM_RUN_JOB_POLLERS": "4"}, 2 * 4 * 16, ""},
		{"other mappings' pollers do not count", map[string]string{"ESM_RUN_JOB_POLLERS": "1"}, 2 * 1 * 500, ""},
		{"other mappings' batches do not count", map[string]string{"ESM_BATCH_SIZE": "16"}, 2 * 2 * 500, ""},
		{"explicit", map[string]string{"SCHEDULER_MAX_IN_FLIGHT": "1000"}, 1000, ""},
		{"worker timeout too short", map[string]string{"WORKER_TIMEOUT": "90s"}, 0, "WORKER_TIMEOUT (1m30s) must be at least 1m31s"},
		{"a longer margin needs more", map[string]string{"WORKER_TIMEOUT": "91s", "WORKER_DEADLINE_MARGIN": "2s"}, 0, "WORKER_TIMEOUT"},
		{"sleeps inline up to the park threshold", map[string]string{"WORKER_TIMEOUT": "91s", "WORKER_PARK_THRESHOLD": "90s"}, 0, "WORKER_TIMEOUT (1m31s) must be at least 2m1s"},
		{"just enough", map[string]string{"WORKER_TIMEOUT": "91s"}, 2 * 2 * 500, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ConfigFromEnv(config.FromMap(tc.vars))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v; want one naming %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Scheduler.MaxInFlight != tc.inFlight {
				t.Fatalf("MaxInFlight = %d; want %d", cfg.Scheduler.MaxInFlight, tc.inFlight)
			}
		})
	}
}

// The banner says whether the API checks keys.
func TestBannerSaysWhetherAuthIsOn(t *testing.T) {
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{nil, "OFF (API_AUTH=none)"},
		{map[string]string{"API_AUTH": "none"}, "OFF (API_AUTH=none)"},
		{map[string]string{"API_AUTH": "keys"}, "API_AUTH=keys: every /api route needs"},
		{map[string]string{"API_AUTH": "jwt", "AUTH_JWT_ISSUER": "http://127.0.0.1:9", "AUTH_JWT_AUDIENCE": "a"},
			"API_AUTH=jwt: every /api route needs Authorization: Bearer <JWT from http://127.0.0.1:9> with a role"},
		{map[string]string{"API_AUTH": "keys,jwt", "AUTH_JWT_ISSUER": "http://127.0.0.1:9", "AUTH_JWT_AUDIENCE": "a"},
			"API_AUTH=keys,jwt: every /api route needs Authorization: Bearer <JWT from http://127.0.0.1:9> or <API key>"},
	} {
		cfg, err := ConfigFromEnv(config.FromMap(tc.vars))
		if err != nil {
			t.Fatal(err)
		}
		if got := authNote(cfg.API); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%v: %q, want it to start %q", tc.vars, got, tc.want)
		}
	}
}

// frontCase is a request to a Front and what it must answer: code, if
// set, is the error code of a refusal; without one the request must
// reach the function, without the secret header.
type frontCase struct {
	name, peer, method, path, secret string
	status                           int
	code                             string
}

func runFront(t *testing.T, f *Front, calls *atomic.Int32, tests []frontCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := calls.Load()
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader("{}"))
			req.RemoteAddr = tt.peer
			if tt.secret != "" {
				req.Header.Set(InternalSecretHeader, tt.secret)
			}
			rec := httptest.NewRecorder()
			f.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d %s; want %d", rec.Code, rec.Body, tt.status)
			}
			if tt.code == "" {
				var got map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["secret"] != "" {
					t.Fatalf("the function saw %v (%v); want the request without the secret header", got, err)
				}
				return
			}
			if b := decodeError(t, rec); b.ErrorCode != tt.code {
				t.Errorf("body %+v; want %s", b, tt.code)
			}
			if calls.Load() != before {
				t.Errorf("the function was invoked for a refused request")
			}
		})
	}
}
