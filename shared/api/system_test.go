package api

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/flow"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/lag"
)

// withLag rebuilds the bundle's service with a Kafka lag reader over its
// broker.
func (b *bundle) withLag(t *testing.T) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	b.cfg.Lag = &lag.Kafka{Admin: kadm.NewClient(cl), Mappings: lag.Mappings("jobweaver-")}
	b.svc = b.service(t, b.relay)
}

func schedulerStats() internalapi.SchedulerStats {
	start := time.Now().UTC().Truncate(time.Minute).Add(-59 * time.Minute)
	tp := internalapi.Throughput{BucketSeconds: 60}
	for i := range 60 {
		tp.Points = append(tp.Points, internalapi.ThroughputPoint{At: start.Add(time.Duration(i) * time.Minute), Completed: int64(i), Failed: int64(i % 3)})
	}
	return internalapi.SchedulerStats{
		Due:        internalapi.DueStats{Count: 4, OldestAgeSeconds: 17},
		Running:    internalapi.RunningStats{Count: 9},
		Throughput: tp,
		Outbox:     internalapi.OutboxStats{Pending: 1, Parked: 2},
	}
}

const healthUp = `{"status":"UP","components":{"db":{"status":"UP"}}}`

// TestSystem: with every function up, GET /api/system has every part:
// each function's health, the scheduler's throughput, due and running,
// the lag of each mapping from the broker, each service's outbox (the
// api's own from its database) and the open dead letters.
func TestSystem(t *testing.T) {
	b := setup(t, Config{})
	b.withLag(t)
	sched := schedulerStats()
	for _, f := range []*fakeFunction{b.sched, b.worker, b.dlq} {
		f.on("GET /health", http.StatusOK, healthUp)
	}
	b.sched.on("GET "+internalapi.PathStats, http.StatusOK, sched)
	b.worker.on("GET "+internalapi.PathStats, http.StatusOK, internalapi.WorkerStats{Outbox: internalapi.OutboxStats{Pending: 3}})
	b.dlq.on("GET "+internalapi.PathStats, http.StatusOK, internalapi.DLQStats{Open: 6, Outbox: internalapi.OutboxStats{Parked: 1}})
	if _, err := b.pool.Exec(t.Context(), `INSERT INTO outbox (topic, value, created_at) VALUES ('job-created', 'x', now() - interval '1 hour')`); err != nil {
		t.Fatal(err)
	}

	w := b.do(http.MethodGet, "/api/system", "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /api/system = %d %s", w.Code, w.Body)
	}
	var got System
	decodeStrict(t, w, &got)
	if len(got.Errors) != 0 || !strings.Contains(w.Body.String(), `"errors":{}`) {
		t.Errorf("errors = %v, want an empty object", got.Errors)
	}
	if got.Source != SourceLocal || time.Since(got.GeneratedAt) > time.Minute {
		t.Errorf("source %q, generated at %s", got.Source, got.GeneratedAt)
	}
	wantFns := []FunctionHealth{{"api", "UP", ""}, {"scheduler", "UP", ""}, {"worker", "UP", ""}, {"dlq", "UP", ""}}
	if !reflect.DeepEqual(got.Functions, wantFns) {
		t.Errorf("functions = %+v", got.Functions)
	}
	if got.Throughput == nil || !reflect.DeepEqual(*got.Throughput, sched.Throughput) {
		t.Errorf("throughput = %+v, want the scheduler's", got.Throughput)
	}
	if got.Due == nil || *got.Due != sched.Due || got.Running == nil || *got.Running != sched.Running {
		t.Errorf("due %+v, running %+v", got.Due, got.Running)
	}
	if got.DLQ == nil || got.DLQ.Open != 6 {
		t.Errorf("dlq = %+v, want 6 open", got.DLQ)
	}
	wantOutbox := []OutboxBacklog{{"api", 1, 0}, {"scheduler", 1, 2}, {"worker", 3, 0}, {"dlq", 0, 1}}
	if !reflect.DeepEqual(got.Outbox, wantOutbox) {
		t.Errorf("outbox = %+v, want %+v", got.Outbox, wantOutbox)
	}
	if len(got.Lag) != len(flow.Routes) {
		t.Fatalf("lag = %+v, want one entry per route", got.Lag)
	}
	for i, r := range flow.Routes {
		if l := got.Lag[i]; l.Topic != r.Topic || l.Consumer != r.Consumer || l.Group != r.Group("jobweaver-") {
			t.Errorf("lag[%d] = %+v, want route %s -> %s", i, l, r.Topic, r.Consumer)
		}
	}
	// The calls were the internal routes, nothing else.
	for _, f := range []*fakeFunction{b.sched, b.worker, b.dlq} {
		for _, c := range f.received() {
			if c.Method != http.MethodGet || (c.Path != "/health" && c.Path != internalapi.PathStats) {
				t.Errorf("unexpected internal call %s %s", c.Method, c.Path)
			}
		}
	}
}

// TestSystemPartsDown: a function that cannot be invoked, one whose
// database is down, one whose stats fail, and no lag reader: the route
// still answers 200, those functions are DOWN, their parts are null, and
// errors names each part; what could be read is there.
func TestSystemPartsDown(t *testing.T) {
	b := setup(t, Config{})
	b.sched.fail(errors.New("Lambda: function is stopped"))
	b.worker.on("GET /health", http.StatusServiceUnavailable, `{"status":"DOWN","components":{"db":{"status":"DOWN"}}}`)
	b.worker.on("GET "+internalapi.PathStats, http.StatusOK, internalapi.WorkerStats{Outbox: internalapi.OutboxStats{Pending: 2}})
	b.dlq.on("GET /health", http.StatusOK, healthUp)
	b.dlq.on("GET "+internalapi.PathStats, http.StatusInternalServerError, `{"errorCode":"DLQ.INTERNAL_ERROR"}`)

	w := b.do(http.MethodGet, "/api/system", "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /api/system = %d %s", w.Code, w.Body)
	}
	var got System
	decodeStrict(t, w, &got)
	status := map[string]string{}
	for _, f := range got.Functions {
		status[f.Name] = f.Status
		if (f.Status == "DOWN") != (f.Error != "") {
			t.Errorf("function %+v: an error goes with DOWN, and only with it", f)
		}
	}
	if want := map[string]string{"api": "UP", "scheduler": "DOWN", "worker": "DOWN", "dlq": "UP"}; !reflect.DeepEqual(status, want) {
		t.Errorf("functions = %+v", got.Functions)
	}
	if got.Throughput != nil || got.Due != nil || got.Running != nil || got.DLQ != nil || got.Lag != nil {
		t.Errorf("parts that could not be read are not null: %s", w.Body)
	}
	for _, part := range []string{"throughput", "due", "running", "dlq", "lag", "outbox"} {
		if got.Errors[part] == "" {
			t.Errorf("errors has no %s: %v", part, got.Errors)
		}
	}
	if len(got.Errors) != 6 {
		t.Errorf("errors = %v, want six parts", got.Errors)
	}
	for _, want := range []string{"scheduler", "dlq"} {
		if !strings.Contains(got.Errors["outbox"], want) {
			t.Errorf("errors.outbox %q does not name the %s", got.Errors["outbox"], want)
		}
	}
	// The outbox lists those that answered; the causes stay in the log.
	if want := []OutboxBacklog{{"api", 0, 0}, {"worker", 2, 0}}; !reflect.DeepEqual(got.Outbox, want) {
		t.Errorf("outbox = %+v, want %+v", got.Outbox, want)
	}
	if strings.Contains(w.Body.String(), "stopped") || !strings.Contains(b.logs.String(), "function is stopped") {
		t.Errorf("the invoke error belongs in the log, not the body: %s", w.Body)
	}
}
