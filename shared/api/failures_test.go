package api

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/trace"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// A database failure is a generic 500: no SQL, no driver text.
func TestDatabaseFailureIsAGeneric500(t *testing.T) {
	b := setup(t, Config{})
	a := accepted(t, b.post(sampleJob))
	b.pool.Close()

	for _, w := range [][2]string{
		{http.MethodPost, "/api/jobs"},
		{http.MethodGet, "/api/jobs/" + a.JobID},
		{http.MethodDelete, "/api/jobs/" + a.JobID},
		{http.MethodGet, "/api/jobs/" + a.JobID + "/executions"},
	} {
		rec := b.do(w[0], w[1], sampleJob, "Content-Type", "application/json")
		e := wantError(t, rec, http.StatusInternalServerError, "API.INTERNAL_ERROR")
		body := strings.ToLower(rec.Body.String())
		for _, leak := range []string{"select", "insert", "from jobs", "pool", "closed", "sqlstate", "pgx", "goroutine"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s %s: body leaks %q: %s", w[0], w[1], leak, rec.Body.String())
			}
		}
		if !strings.Contains(e.Message, "traceId") {
			t.Errorf("500 message %q does not point at the traceId", e.Message)
		}
	}
	if !strings.Contains(b.logs.String(), "closed pool") {
		t.Errorf("the database error was not logged:\n%s", b.logs.String())
	}
}

// deadProducer produces to an address where no broker listens, giving up
// on a record after a second.
func deadProducer(t *testing.T) *kgo.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cl, err := kafka.NewProducer(kafka.Config{Brokers: []string{addr}}, kgo.RecordDeliveryTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// The relay failing after the commit does not fail the submission: the
// event waits in the outbox, and a later invocation's drain sends it: a
// repeat of the submission, or a read of the job that finds it not
// ingested, or any new submission.
func TestRelayFailureAfterCommit(t *testing.T) {
	b := setup(t, Config{})
	dead := b.service(t, &outbox.Relay{Pool: b.pool, Producer: deadProducer(t)})
	// Sweep for every submission, whatever the rows' age.
	b.svc.sweepEvery, b.svc.sweepAge = 0, 0
	postDead := func(hdr ...string) Accepted {
		t.Helper()
		w := serve(dead.HTTPHandler(), http.MethodPost, "/api/jobs", sampleJob, append([]string{"Content-Type", "application/json"}, hdr...)...)
		return accepted(t, w)
	}

	stuck := postDead(trace.HTTPHeader, "stuck-trace", "Idempotency-Key", "stuck-key")
	if n := b.count(t, `SELECT count(*) FROM outbox`); n != 1 {
		t.Fatalf("%d outbox rows after a failed relay, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM jobs WHERE id = $1`, stuck.JobID); n != 1 {
		t.Fatal("the job was not stored")
	}
	if !strings.Contains(b.logs.String(), "publish failed") {
		t.Errorf("the relay failure was not logged:\n%s", b.logs.String())
	}
	// The job can be read at once, as PENDING.
	var v JobView
	decodeStrict(t, serve(dead.HTTPHandler(), http.MethodGet, "/api/jobs/"+stuck.JobID, ""), &v)
	if v.Status != internalapi.StatusPending || v.TraceID != "stuck-trace" {
		t.Fatalf("stuck job = %+v", v)
	}

	// A repeat of the submission on a working invocation sends it.
	if again := accepted(t, b.post(sampleJob, "Idempotency-Key", "stuck-key")); again != stuck {
		t.Fatalf("repeat = %+v, want %+v", again, stuck)
	}
	if n := b.count(t, `SELECT count(*) FROM outbox`); n != 0 {
		t.Fatalf("%d outbox rows after the repeat's drain", n)
	}

	// So does reading a job the scheduler has not ingested.
	stuck2 := postDead()
	decodeStrict(t, b.do(http.MethodGet, "/api/jobs/"+stuck2.JobID, ""), &v)
	if v.Status != internalapi.StatusPending {
		t.Fatalf("stuck job = %+v", v)
	}
	if n := b.count(t, `SELECT count(*) FROM outbox`); n != 0 {
		t.Fatalf("%d outbox rows after the read's drain", n)
	}

	// And any new submission.
	stuck3 := postDead()
	next := accepted(t, b.post(sampleJob))

	recs := kafkatest.ReadAll(t, b.brokers, envelope.TopicJobCreated, 4, 15*time.Second)
	if len(recs) != 4 {
		t.Fatalf("read %d records, want 4", len(recs))
	}
	byKey := map[string]string{}
	for _, r := range recs {
		for _, h := range r.Headers {
			if h.Key == trace.KafkaTraceHeader {
				byKey[string(r.Key)] = string(h.Value)
			}
		}
	}
	for _, a := range []Accepted{stuck, stuck2, stuck3, next} {
		if byKey[a.JobID] != a.TraceID {
			t.Errorf("job %s: record trace %q, want %q (records %v)", a.JobID, byKey[a.JobID], a.TraceID, byKey)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM outbox`); n != 0 {
		t.Fatalf("%d outbox rows left", n)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := config.FromMap(nil)
	if c := ConfigFromEnv(env); env.Err() != nil || c != (Config{BodyLimit: 262144, PageSizeMax: 100, DefaultPageSize: 20, MetricsMode: "off", Source: SourceLocal, Auth: AuthNone, JWTRoleClaim: "cognito:groups", KeyCacheTTL: DefaultKeyCacheTTL, MaxInFlight: DefaultMaxInFlight}) {
		t.Fatalf("defaults = %+v, %v", c, env.Err())
	}
	env = config.FromMap(map[string]string{"API_BODY_LIMIT_BYTES": "65536", "API_PAGE_SIZE_MAX": "10"})
	if c := ConfigFromEnv(env); env.Err() != nil || c != (Config{BodyLimit: 65536, PageSizeMax: 10, DefaultPageSize: 10, MetricsMode: "off", Source: SourceLocal, Auth: AuthNone, JWTRoleClaim: "cognito:groups", KeyCacheTTL: DefaultKeyCacheTTL, MaxInFlight: DefaultMaxInFlight}) {
		t.Fatalf("set = %+v, %v", c, env.Err())
	}
	// Inside Lambda, GET /api/system says aws.
	env = config.FromMap(map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "jobweaver-dev-api", "METRICS": "off"})
	if c := ConfigFromEnv(env); env.Err() != nil || c.Source != SourceAWS {
		t.Fatalf("in Lambda: source %q, %v", c.Source, env.Err())
	}
	for name, v := range map[string]string{"API_BODY_LIMIT_BYTES": "12", "API_PAGE_SIZE_MAX": "lots", "METRICS": "statsd"} {
		env := config.FromMap(map[string]string{name: v})
		ConfigFromEnv(env)
		if err := env.Err(); err == nil || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%s: error %v, want one line naming it", name, v, err)
		}
	}
}

// New validates its config once: a bad field is an error naming the
// variable that sets it.
func TestNewValidatesConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"API_BODY_LIMIT_BYTES": {BodyLimit: 12},
		"API_PAGE_SIZE_MAX":    {PageSizeMax: 5000},
		"DefaultPageSize":      {DefaultPageSize: -1},
		"METRICS":              {MetricsMode: "statsd"},
		"Source":               {Source: "mars"},
	} {
		if _, err := New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: New = %v, want an error naming it", name, err)
		}
	}
}

func TestNewChecksDeps(t *testing.T) {
	b := setup(t, Config{})
	relay := &outbox.Relay{Pool: b.pool}
	for name, tc := range map[string]struct {
		deps *wiring.Deps
		ok   bool
	}{
		"nil deps":  {nil, false},
		"no pool":   {&wiring.Deps{Relay: relay}, false},
		"no relay":  {&wiring.Deps{Pool: b.pool}, false},
		"no logger": {&wiring.Deps{Pool: b.pool, Relay: relay}, true},
	} {
		_, err := New(Config{}, tc.deps, b.local)
		if (err == nil) != tc.ok {
			t.Errorf("%s: New error = %v", name, err)
		}
	}
	if _, err := New(Config{}, &wiring.Deps{Pool: b.pool, Relay: relay}, nil); err == nil {
		t.Error("New accepted a nil invoker")
	}
}

// A list whose answer is over Lambda's response limit is the client's to
// fix (a smaller page), not a 503 to retry.
func TestResponseTooLargeAsksForASmallerPage(t *testing.T) {
	b := setup(t, Config{})
	b.local.Register(invoke.Scheduler, tooLarge{})
	w := b.do(http.MethodGet, "/api/jobs?size=100", "")
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "API.RESPONSE_TOO_LARGE") {
		t.Fatalf("GET /api/jobs = %d %s", w.Code, w.Body)
	}
}

type tooLarge struct{}

func (tooLarge) Invoke(context.Context, []byte) ([]byte, error) {
	return nil, &invoke.FunctionError{Function: invoke.Scheduler, Type: invoke.ErrorTypeResponseTooLarge, Message: "Response payload size exceeded maximum allowed payload size (6291556 bytes)."}
}
