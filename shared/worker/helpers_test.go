package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/step"
	"github.com/jobweaver/jobweaver/shared/wiring"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// bundle is what a worker test needs.
type bundle struct {
	pool    *pgxpool.Pool
	brokers []string
	deps    *wiring.Deps
	svc     *worker.Service
	probe   *probe
	logs    *syncBuffer
}

// setup starts Postgres and Kafka for the test and builds a worker whose
// registry has the built-in kinds plus the test kinds of probe.
func setup(tb testing.TB, cfg worker.Config) *bundle {
	tb.Helper()
	pool := pgtest.Pool(tb, worker.Migrations())
	brokers := kafkatest.Cluster(tb)
	prod := kafkatest.Producer(tb, brokers)
	b := &bundle{pool: pool, brokers: brokers, probe: newProbe(tb), logs: &syncBuffer{}}
	b.deps = &wiring.Deps{
		Pool:     pool,
		Producer: prod,
		Relay:    &outbox.Relay{Pool: pool, Producer: prod},
		Log:      logging.New("worker", b.logs),
	}
	if cfg.Steps == nil {
		cfg.Steps = b.probe.registry()
	}
	svc, err := worker.New(cfg, b.deps)
	if err != nil {
		tb.Fatal(err)
	}
	b.svc = svc
	return b
}

// probe provides test step kinds:
//
//	COUNT {key}    counts its runs per key
//	CONC           tracks how many run at once; the first ones wait until
//	               `limit` are running together, so the maximum is exact
//	BARRIER        waits until `parties` BARRIER steps have started
//	HANG           ignores its context and blocks until the test ends
type probe struct {
	mu      sync.Mutex
	counts  map[string]int
	cur     int
	max     int
	limit   int
	release chan struct{}
	once    sync.Once

	parties int
	arrived atomic.Int64
	gate    chan struct{}
	gOnce   sync.Once

	hang chan struct{}
}

func newProbe(tb testing.TB) *probe {
	p := &probe{counts: map[string]int{}, release: make(chan struct{}), gate: make(chan struct{}), hang: make(chan struct{})}
	tb.Cleanup(func() { close(p.hang) })
	return p
}

func (p *probe) count(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[key]
}

func (p *probe) registry() *step.Registry {
	r := step.NewRegistry()
	for _, a := range step.Default.Actions() {
		r.Register(a, step.Default.Parse)
	}
	r.Register("COUNT", func(raw json.RawMessage) (step.Step, error) {
		var s struct {
			Action string `json:"action"`
			Key    string `json:"key"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return testStep{"COUNT", func(ctx context.Context) error {
			p.mu.Lock()
			p.counts[s.Key]++
			p.mu.Unlock()
			return nil
		}}, nil
	})
	r.Register("CONC", func(json.RawMessage) (step.Step, error) {
		return testStep{"CONC", func(ctx context.Context) error {
			p.mu.Lock()
			p.cur++
			p.max = max(p.max, p.cur)
			if p.cur == p.limit {
				p.once.Do(func() { close(p.release) })
			}
			p.mu.Unlock()
			defer func() {
				p.mu.Lock()
				p.cur--
				p.mu.Unlock()
			}()
			select {
			case <-p.release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Second): // a safety net, not an assertion
				return errors.New("CONC: the limit was never reached")
			}
		}}, nil
	})
	r.Register("BARRIER", func(json.RawMessage) (step.Step, error) {
		return testStep{"BARRIER", func(ctx context.Context) error {
			if p.arrived.Add(1) >= int64(p.parties) {
				p.gOnce.Do(func() { close(p.gate) })
			}
			select {
			case <-p.gate:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}}, nil
	})
	r.Register("HANG", func(json.RawMessage) (step.Step, error) {
		return testStep{"HANG", func(context.Context) error {
			<-p.hang
			return nil
		}}, nil
	})
	return r
}

type testStep struct {
	action string
	run    func(context.Context) error
}

func (s testStep) Action() string                            { return s.action }
func (s testStep) Simulated() int64                          { return 0 }
func (s testStep) Run(ctx context.Context, _ step.Env) error { return s.run(ctx) }

// runJob builds a run-job envelope for a new job with the given steps.
func runJob(tb testing.TB, attempt int, steps ...string) envelope.Envelope {
	tb.Helper()
	return runJobFor(tb, uuid.NewString(), attempt, steps...)
}

func runJobFor(tb testing.TB, jobID string, attempt int, steps ...string) envelope.Envelope {
	tb.Helper()
	now := time.Now().UTC()
	e, err := envelope.New(envelope.TypeRunJob, "trace-"+uuid.NewString()[:8], jobID, envelope.RunJob{
		JobSpec: envelope.JobSpec{
			JobType:       "SIMULATION",
			Payload:       json.RawMessage(`{"steps":[` + strings.Join(steps, ",") + `]}`),
			MaxRetryCount: 3,
		},
		Attempt:      attempt,
		DispatchedAt: now,
		LeaseUntil:   now.Add(15 * time.Minute),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// batch turns envelopes into a Kafka event of run-job records; record i
// sits at offset i of partition 0, whatever its type.
func batch(envs ...envelope.Envelope) events.KafkaEvent {
	recs := make([]*kgo.Record, len(envs))
	for i, e := range envs {
		r := kafka.Record(e)
		r.Topic, r.Partition, r.Offset = envelope.TopicRunJob, 0, int64(i)
		recs[i] = r
	}
	return kafka.Event("test", recs)
}

// read returns the decoded envelopes of the first want records on topic.
func read(tb testing.TB, brokers []string, topic string, want int) ([]envelope.Envelope, []*kgo.Record) {
	tb.Helper()
	recs := kafkatest.ReadAll(tb, brokers, topic, want, 15*time.Second)
	if len(recs) != want {
		tb.Fatalf("%s: read %d records, want %d", topic, len(recs), want)
	}
	envs := make([]envelope.Envelope, len(recs))
	for i, r := range recs {
		e, err := envelope.Decode(r.Value)
		if err != nil {
			tb.Fatalf("%s record %d: %v", topic, i, err)
		}
		envs[i] = e
	}
	return envs, recs
}

func attemptResult(tb testing.TB, e envelope.Envelope) envelope.AttemptResult {
	tb.Helper()
	var r envelope.AttemptResult
	if err := e.DecodePayload(&r); err != nil {
		tb.Fatal(err)
	}
	return r
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func stepStatuses(r envelope.AttemptResult) string {
	var s []string
	for _, st := range r.Steps {
		s = append(s, st.Action+":"+st.Status)
	}
	return strings.Join(s, ",")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON log lines whose msg is msg.
func (s *syncBuffer) lines(tb testing.TB, msg string) []map[string]any {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(s.b.String(), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			tb.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// String returns everything logged so far.
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
