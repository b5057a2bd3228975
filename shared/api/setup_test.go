package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/apigw"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/trace"
	"github.com/jobweaver/jobweaver/shared/tracing"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// sampleJob is the original client collection's first submission.
const sampleJob = `{
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
}`

// fakeCall is one internal call a fake function received.
type fakeCall struct {
	Method, Path, TraceID string
	Query                 url.Values
	Body                  string
}

// fakeFunction stands in for the scheduler, worker or dlq function: its
// internal routes answer canned responses through the same API Gateway
// event path a real function uses.
type fakeFunction struct {
	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	err    error // when set, the invocation itself fails
	calls  []fakeCall
}

func newFakeFunction() *fakeFunction {
	return &fakeFunction{routes: map[string]http.HandlerFunc{}}
}

// on answers pattern (a ServeMux pattern) with status and body; a string
// body is sent as is, anything else as JSON.
func (f *fakeFunction) on(pattern string, status int, body any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[pattern] = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if s, ok := body.(string); ok {
			_, _ = io.WriteString(w, s)
			return
		}
		_ = json.NewEncoder(w).Encode(body)
	}
}

func (f *fakeFunction) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeFunction) received() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

func (f *fakeFunction) handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	req, err := apigw.ToRequest(ctx, ev)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Method: req.Method, Path: req.URL.Path, TraceID: req.Header.Get(trace.HTTPHeader),
		Query: req.URL.Query(), Body: string(body)})
	failErr := f.err
	mux := http.NewServeMux()
	for p, h := range f.routes {
		mux.HandleFunc(p, h)
	}
	f.mu.Unlock()
	if failErr != nil {
		return events.APIGatewayV2HTTPResponse{}, failErr
	}
	return apigw.Serve(ctx, mux, ev)
}

// logBuffer collects log lines safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns every log line decoded.
func (b *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// bundle is what a test of the service needs.
type bundle struct {
	svc                *Service
	cfg                Config
	pool               *pgxpool.Pool
	brokers            []string
	relay              *outbox.Relay
	local              *invoke.Local
	sched, worker, dlq *fakeFunction
	logs               *logBuffer
}

// setup starts a service on a fresh database and broker, with fake
// scheduler, worker and dlq functions.
func setup(tb testing.TB, cfg Config) *bundle {
	tb.Helper()
	b := &bundle{
		cfg:     cfg,
		pool:    pgtest.Pool(tb, Migrations()),
		brokers: kafkatest.Cluster(tb),
		local:   &invoke.Local{},
		sched:   newFakeFunction(),
		worker:  newFakeFunction(),
		dlq:     newFakeFunction(),
		logs:    &logBuffer{},
	}
	b.relay = &outbox.Relay{Pool: b.pool, Producer: kafkatest.Producer(tb, b.brokers)}
	b.local.Register(invoke.Scheduler, lambda.NewHandler(b.sched.handle))
	b.local.Register(invoke.Worker, lambda.NewHandler(b.worker.handle))
	b.local.Register(invoke.DLQ, lambda.NewHandler(b.dlq.handle))
	b.svc = b.service(tb, b.relay)
	return b
}

// service builds another service over the bundle's database and fakes,
// publishing through relay.
func (b *bundle) service(tb testing.TB, relay *outbox.Relay) *Service {
	tb.Helper()
	tp, err := tracing.New(context.Background(), "api", tracing.Config{StoreSpans: 10_000})
	if err != nil {
		tb.Fatal(err)
	}
	svc, err := New(b.cfg, &wiring.Deps{Pool: b.pool, Producer: relay.Producer, Relay: relay, Log: logging.New("api", b.logs), Tracing: tp}, b.local)
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

// do sends a request through the HTTP handler; hdr holds name, value
// pairs.
func (b *bundle) do(method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	return serve(b.svc.HTTPHandler(), method, target, body, hdr...)
}

// post submits body as JSON.
func (b *bundle) post(body string, hdr ...string) *httptest.ResponseRecorder {
	return b.do(http.MethodPost, "/api/jobs", body, append([]string{"Content-Type", "application/json"}, hdr...)...)
}

func serve(h http.Handler, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// errorBody mirrors the error contract; decoding rejects other fields.
type errorBody struct {
	Timestamp time.Time `json:"timestamp"`
	Status    int       `json:"status"`
	ErrorCode string    `json:"errorCode"`
	Message   string    `json:"message"`
	JobID     string    `json:"jobId"`
	TraceID   string    `json:"traceId"`
	Details   []string  `json:"details"`
}

// decodeStrict decodes a JSON response body into v, rejecting unknown
// fields, and checks the Content-Type.
func decodeStrict(tb testing.TB, w *httptest.ResponseRecorder, v any) {
	tb.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("Content-Type = %q, want application/json (body %q)", ct, w.Body.String())
	}
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("body %q does not decode into %T: %v", w.Body.String(), v, err)
	}
}

// wantError checks that w is the error contract with status and code, and
// that it carries the response's trace ID.
func wantError(tb testing.TB, w *httptest.ResponseRecorder, status int, code string) errorBody {
	tb.Helper()
	if w.Code != status {
		tb.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body.String())
	}
	var e errorBody
	decodeStrict(tb, w, &e)
	if e.Status != status || e.ErrorCode != code || e.Message == "" || e.Timestamp.IsZero() {
		tb.Fatalf("error body = %+v, want status %d code %s", e, status, code)
	}
	if e.TraceID == "" || e.TraceID != w.Header().Get(trace.HTTPHeader) {
		tb.Fatalf("error traceId %q, response X-Trace-Id %q", e.TraceID, w.Header().Get(trace.HTTPHeader))
	}
	return e
}

// accepted checks a 202 and returns its body.
func accepted(tb testing.TB, w *httptest.ResponseRecorder) Accepted {
	tb.Helper()
	if w.Code != http.StatusAccepted {
		tb.Fatalf("status = %d, want 202; body %s", w.Code, w.Body.String())
	}
	var a Accepted
	decodeStrict(tb, w, &a)
	if a.JobID == "" || a.TraceID == "" {
		tb.Fatalf("accepted body = %+v", a)
	}
	return a
}

func (b *bundle) count(tb testing.TB, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := b.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}
