package scheduler

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// readTimeout bounds waiting for records that must already be there.
const readTimeout = 20 * time.Second

// testBundle is what a scheduler test needs: a migrated database, a
// broker, deps over both and a service.
type testBundle struct {
	ctx     context.Context
	pool    *pgxpool.Pool
	brokers []string
	deps    *wiring.Deps
	svc     *Service
}

// testConfig is DefaultConfig with backoff small enough to wait out, and
// room for the hundreds of jobs the tests dispatch at once.
func testConfig() Config {
	c := DefaultConfig()
	c.BackoffBase, c.BackoffCap = time.Millisecond, 50*time.Millisecond
	c.MaxInFlight = 1000
	return c
}

func setup(t testing.TB, mutate func(*Config)) *testBundle {
	t.Helper()
	pool := pgtest.Pool(t, Migrations())
	brokers := kafkatest.Cluster(t)
	prod := kafkatest.Producer(t, brokers)
	b := &testBundle{
		ctx:     context.Background(),
		pool:    pool,
		brokers: brokers,
		deps: &wiring.Deps{Pool: pool, Producer: prod, Log: logging.Discard(),
			Relay: &outbox.Relay{Pool: pool, Producer: prod}},
	}
	b.svc = b.service(t, mutate)
	t.Cleanup(func() { checkRunningCount(t, pool) })
	return b
}

// checkRunningCount fails t unless the running count the triggers keep
// (jobs_running, migration 00013) is the number of RUNNING jobs: every
// test that sets up a scheduler checks it when it ends, whatever its jobs
// went through.
func checkRunningCount(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	// A connection of its own: some tests close the pool.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pool.Config().ConnConfig.ConnString())
	if err != nil {
		t.Errorf("check the running count: %v", err)
		return
	}
	defer conn.Close(ctx)
	var kept, counted int
	if err := conn.QueryRow(ctx, `
		SELECT (SELECT coalesce(sum(n), 0) FROM jobs_running), (SELECT count(*) FROM jobs WHERE status = 'RUNNING')`).Scan(&kept, &counted); err != nil {
		t.Errorf("check the running count: %v", err)
		return
	}
	if kept != counted {
		t.Errorf("jobs_running sums to %d, but %d jobs are RUNNING", kept, counted)
	}
}

// service builds another service on the bundle's deps.
func (b *testBundle) service(t testing.TB, mutate func(*Config)) *Service {
	t.Helper()
	cfg := testConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg, b.deps)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jobOpts shape a job-created event.
type jobOpts struct {
	ID         string
	MaxRetries int
	TraceID    string
	CreatedBy  string // the submitting caller; "" as in events from before callers
}

func newJobCreated(t testing.TB, o jobOpts) envelope.Envelope {
	t.Helper()
	if o.ID == "" {
		o.ID = uuid.NewString()
	}
	if o.TraceID == "" {
		o.TraceID = "trace-" + o.ID[:8]
	}
	e, err := envelope.New(envelope.TypeJobCreated, o.TraceID, o.ID, envelope.JobCreated{
		JobSpec: envelope.JobSpec{
			JobType:       "SIMULATION",
			Payload:       json.RawMessage(`{"steps":[{"action":"LOG","message":"hi"}]}`),
			MaxRetryCount: o.MaxRetries,
		},
		CreatedAt: time.Now().UTC(),
		CreatedBy: o.CreatedBy,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// newResult builds a job-completed (errMsg == "") or job-failed event.
func newResult(t testing.TB, jobID string, attempt int, errMsg string, permanent bool) envelope.Envelope {
	t.Helper()
	typ := envelope.TypeJobCompleted
	r := envelope.AttemptResult{Attempt: attempt, StartedAt: time.Now().UTC(), FinishedAt: time.Now().UTC(), DurationMs: 7}
	if errMsg != "" {
		typ = envelope.TypeJobFailed
		r.ErrorCode, r.Error, r.Permanent = "WORKER.STEP_FAILED", errMsg, permanent
	}
	e, err := envelope.New(typ, "trace-result", jobID, r)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var offsets atomic.Int64

// kafkaEvent wraps envelopes as the event-source mapping delivers them.
func kafkaEvent(envs ...envelope.Envelope) events.KafkaEvent {
	recs := make([]*kgo.Record, len(envs))
	for i, e := range envs {
		r := kafka.Record(e)
		r.Partition, r.Offset = 0, offsets.Add(1)
		recs[i] = r
	}
	return kafka.Event("test", recs)
}

// consume hands envelopes to HandleKafka and fails the test on error.
func (b *testBundle) consume(t testing.TB, s *Service, envs ...envelope.Envelope) {
	t.Helper()
	if err := s.HandleKafka(b.ctx, kafkaEvent(envs...)); err != nil {
		t.Fatalf("HandleKafka: %v", err)
	}
}

func (b *testBundle) runOnce(t *testing.T, s *Service) PassResult {
	t.Helper()
	r, err := s.RunOnce(b.ctx)
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	return r
}

// job returns a job's status, failing the test if it does not exist.
func (b *testBundle) job(t testing.TB, id string) internalapi.JobStatus {
	t.Helper()
	s, err := jobGetByID(b.ctx, b.pool, id)
	if err != nil {
		t.Fatalf("job %s: %v", id, err)
	}
	return s
}

func (b *testBundle) count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(b.ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (b *testBundle) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := b.pool.Exec(b.ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// published returns how many records topic holds (the sum of its
// partitions' end offsets); the relay has produced synchronously, so this
// is exact without waiting.
func (b *testBundle) published(t *testing.T, topic string) int {
	t.Helper()
	return int(kafkatest.Count(t, b.brokers, topic))
}

// read returns exactly the records of topic, decoded, after checking how
// many there are.
func (b *testBundle) read(t *testing.T, topic string, want int) []envelope.Envelope {
	t.Helper()
	if n := b.published(t, topic); n != want {
		t.Fatalf("%s holds %d records, want %d", topic, n, want)
	}
	if want == 0 {
		return nil
	}
	recs := kafkatest.ReadAll(t, b.brokers, topic, want, readTimeout)
	if len(recs) != want {
		t.Fatalf("read %d records of %s, want %d", len(recs), topic, want)
	}
	out := make([]envelope.Envelope, len(recs))
	for i, r := range recs {
		e, err := envelope.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if e.Topic() != topic {
			t.Fatalf("record of type %s on %s", e.Type, topic)
		}
		out[i] = e
	}
	return out
}

func decodePayload[T any](t *testing.T, e envelope.Envelope) T {
	t.Helper()
	var v T
	if err := e.DecodePayload(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// insertDueJobs inserts n PENDING jobs due a minute ago with the given
// attempts (0: fresh queue, more: retry queue), set-based.
func (b *testBundle) insertDueJobs(t *testing.T, n, attempts int) {
	t.Helper()
	b.exec(t, `
		INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts, next_run_at, created_at)
		SELECT gen_random_uuid(), 'SIMULATION', '{"steps":[]}', 5, 'trace-bulk', 'PENDING', $2,
		       now() - interval '1 minute' + g * interval '1 microsecond', now()
		  FROM generate_series(1, $1) AS g`, n, attempts)
}

// serve sends one request to the service's HTTP handler.
func (b *testBundle) serve(t *testing.T, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, target, nil)
	} else {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Trace-Id", "trace-http")
	rec := httptest.NewRecorder()
	b.svc.HTTPHandler().ServeHTTP(rec, req)
	return rec
}

func decodeJSON[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return v
}
