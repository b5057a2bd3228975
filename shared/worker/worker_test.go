package worker_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/apigwtest"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/paging"
	"github.com/jobweaver/jobweaver/shared/wiring"
	"github.com/jobweaver/jobweaver/shared/worker"
)

func TestLogComputeJobCompletes(t *testing.T) {
	b := setup(t, worker.Config{})
	ctx := context.Background()
	run := runJob(t, 1, `{"action":"LOG","message":"hello from the job"}`, `{"action":"COMPUTE","iterations":10000}`)

	// Through Handle, as Lambda calls it.
	payload, err := json.Marshal(batch(run))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.Handle(ctx, payload); err != nil {
		t.Fatal(err)
	}

	envs, recs := read(t, b.brokers, envelope.TopicJobCompleted, 1)
	got := envs[0]
	if got.JobID != run.JobID || got.TraceID != run.TraceID || got.EventID != worker.ResultEventID(run.EventID) {
		t.Fatalf("job-completed = %+v; want jobId %s traceId %s", got, run.JobID, run.TraceID)
	}
	if header(recs[0], "traceId") != run.TraceID || header(recs[0], "eventId") != got.EventID || string(recs[0].Key) != run.JobID {
		t.Fatalf("record headers %v key %q", recs[0].Headers, recs[0].Key)
	}
	res := attemptResult(t, got)
	if res.Attempt != 1 || res.ErrorCode != "" || stepStatuses(res) != "LOG:SUCCEEDED,COMPUTE:SUCCEEDED" {
		t.Fatalf("result = %+v", res)
	}
	if res.StartedAt.IsZero() || res.FinishedAt.Before(res.StartedAt) {
		t.Fatalf("times = %v .. %v", res.StartedAt, res.FinishedAt)
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobFailed); n != 0 {
		t.Fatalf("%d job-failed records", n)
	}

	var status, steps string
	if err := b.pool.QueryRow(ctx, `SELECT status, steps::text FROM executions WHERE event_id = $1`, run.EventID).Scan(&status, &steps); err != nil {
		t.Fatal(err)
	}
	if status != "COMPLETED" || !strings.Contains(steps, `"SUCCEEDED"`) {
		t.Fatalf("execution row: %s %s", status, steps)
	}

	lines := b.logs.lines(t, "hello from the job")
	if len(lines) != 1 {
		t.Fatalf("LOG lines = %v", lines)
	}
	if l := lines[0]; l["traceId"] != run.TraceID || l["jobId"] != run.JobID || l["service"] != "worker" || l["action"] != "LOG" {
		t.Fatalf("LOG line = %v", l)
	}
}

func TestFailingStepFailsAttemptAndSkipsTheRest(t *testing.T) {
	b := setup(t, worker.Config{})
	run := runJob(t, 2, `{"action":"LOG","message":"about to fail"}`, `{"action":"FAIL","message":"simulated crash"}`, `{"action":"COUNT","key":"after"}`)
	if err := b.svc.HandleKafka(context.Background(), batch(run)); err != nil {
		t.Fatal(err)
	}
	envs, _ := read(t, b.brokers, envelope.TopicJobFailed, 1)
	res := attemptResult(t, envs[0])
	if res.ErrorCode != worker.CodeStepFailed || res.Permanent || res.Attempt != 2 {
		t.Fatalf("result = %+v", res)
	}
	if !strings.Contains(res.Error, "simulated crash") || !strings.Contains(res.Steps[1].Error, "simulated crash") {
		t.Fatalf("error = %q, step error = %q", res.Error, res.Steps[1].Error)
	}
	if got := stepStatuses(res); got != "LOG:SUCCEEDED,FAIL:FAILED,COUNT:SKIPPED" {
		t.Fatalf("steps = %s", got)
	}
	if b.probe.count("after") != 0 {
		t.Fatal("a step after the failure ran")
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobCompleted); n != 0 {
		t.Fatalf("%d job-completed records", n)
	}
}

func TestUnstorableTextIsCleaned(t *testing.T) {
	b := setup(t, worker.Config{})
	run := runJob(t, 1, `{"action":"FAIL","message":"nul \u0000 inside"}`)
	run.TraceID = "trace\x00with-nul"
	if err := b.svc.HandleKafka(context.Background(), batch(run)); err != nil {
		t.Fatal(err)
	}
	envs, _ := read(t, b.brokers, envelope.TopicJobFailed, 1)
	if res := attemptResult(t, envs[0]); !strings.Contains(res.Error, "nul  inside") || envs[0].TraceID != "tracewith-nul" {
		t.Fatalf("result %+v trace %q", res, envs[0].TraceID)
	}
}

func TestInvalidStepsFailPermanently(t *testing.T) {
	b := setup(t, worker.Config{})
	run := runJob(t, 1, `{"action":"TELEPORT"}`)
	if err := b.svc.HandleKafka(context.Background(), batch(run)); err != nil {
		t.Fatal(err)
	}
	envs, _ := read(t, b.brokers, envelope.TopicJobFailed, 1)
	res := attemptResult(t, envs[0])
	if res.ErrorCode != worker.CodeInvalidJob || !res.Permanent || !strings.Contains(res.Error, "TELEPORT") || len(res.Steps) != 0 {
		t.Fatalf("result = %+v", res)
	}
}

func TestRedeliveredRunJobRunsOnce(t *testing.T) {
	b := setup(t, worker.Config{})
	ctx := context.Background()
	run := runJob(t, 1, `{"action":"COUNT","key":"job"}`)

	// Twice in one batch.
	if err := b.svc.HandleKafka(ctx, batch(run, run)); err != nil {
		t.Fatal(err)
	}
	// And again in later invocations.
	for i := 0; i < 2; i++ {
		if err := b.svc.HandleKafka(ctx, batch(run)); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.probe.count("job"); n != 1 {
		t.Fatalf("steps ran %d times, want 1", n)
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobCompleted); n != 1 {
		t.Fatalf("%d job-completed records, want 1", n)
	}
	var rows int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM executions`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("executions rows = %d, %v", rows, err)
	}
}

func TestRacingDeliveriesWriteOneResult(t *testing.T) {
	b := setup(t, worker.Config{})
	b.probe.parties = 2 // both deliveries are inside the step before either records
	run := runJob(t, 1, `{"action":"BARRIER"}`, `{"action":"COUNT","key":"race"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	other, err := worker.New(worker.Config{Steps: b.probe.registry()}, b.deps)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, svc := range []*worker.Service{b.svc, other} {
		wg.Go(func() { errs[i] = svc.HandleKafka(ctx, batch(run)) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("errors: %v", errs)
	}
	if n := b.probe.count("race"); n != 2 {
		t.Fatalf("racing deliveries ran %d times, want both", n)
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobCompleted); n != 1 {
		t.Fatalf("%d job-completed records, want 1", n)
	}
}

func TestBatchConcurrencyIsBounded(t *testing.T) {
	const limit, jobs = 5, 50
	b := setup(t, worker.Config{Concurrency: limit})
	b.probe.limit = limit
	envs := make([]envelope.Envelope, jobs)
	for i := range envs {
		envs[i] = runJob(t, 1, `{"action":"CONC"}`, `{"action":"LOG","message":"done"}`)
	}
	if err := b.svc.HandleKafka(context.Background(), batch(envs...)); err != nil {
		t.Fatal(err)
	}
	if b.probe.max != limit {
		t.Fatalf("at most %d ran at once, want exactly %d", b.probe.max, limit)
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobCompleted); n != jobs {
		t.Fatalf("%d job-completed records, want %d", n, jobs)
	}
}

func TestDeadlineCutsStepsAndStillRecords(t *testing.T) {
	// Steps stop 2 s before the deadline; one that ignores that is given
	// up 1 s later, which leaves 1 s to record and publish.
	// Inline sleeps up to 5 min: the SLEEP is cut, not parked.
	b := setup(t, worker.Config{DeadlineMargin: 2 * time.Second, Durable: worker.DurableConfig{ParkThreshold: -1}})
	slow := runJob(t, 1, `{"action":"SLEEP","durationMs":300000}`, `{"action":"LOG","message":"never"}`)
	stubborn := runJob(t, 1, `{"action":"HANG"}`) // ignores its context
	quick := runJob(t, 1, `{"action":"LOG","message":"quick"}`)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.svc.HandleKafka(ctx, batch(slow, stubborn, quick)); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("HandleKafka returned after the invocation deadline")
	}

	envs, _ := read(t, b.brokers, envelope.TopicJobFailed, 2)
	byJob := map[string]envelope.AttemptResult{}
	for _, e := range envs {
		byJob[e.JobID] = attemptResult(t, e)
	}
	if r := byJob[slow.JobID]; r.ErrorCode != worker.CodeYielded || !r.Yielded || r.Permanent || stepStatuses(r) != "SLEEP:INTERRUPTED,LOG:SKIPPED" {
		t.Fatalf("slow job: %+v", r)
	}
	if r := byJob[stubborn.JobID]; r.ErrorCode != worker.CodeDeadlineExceeded {
		t.Fatalf("stubborn job: %+v", r)
	}
	done, _ := read(t, b.brokers, envelope.TopicJobCompleted, 1)
	if done[0].JobID != quick.JobID {
		t.Fatalf("completed %s, want the quick job", done[0].JobID)
	}
}

func TestPoisonRecordsAreDeadLettered(t *testing.T) {
	b := setup(t, worker.Config{})
	ctx := context.Background()

	good := runJob(t, 1, `{"action":"COUNT","key":"good"}`)
	wrongVersion := runJob(t, 1, `{"action":"LOG","message":"x"}`)
	wrongVersion.Version = 2
	created, err := envelope.New(envelope.TypeJobCreated, "trace-created", uuid.NewString(), envelope.JobCreated{})
	if err != nil {
		t.Fatal(err)
	}
	badAttempt := runJob(t, 0, `{"action":"LOG","message":"x"}`)
	ev := batch(good, wrongVersion, created, badAttempt, good, good) // offsets 0..5
	recs := ev.Records["run-job-0"]
	recs[4].Value = "%%% not base64 %%%"
	recs[5].Value = base64.StdEncoding.EncodeToString([]byte(`{"eventId": "not json`))

	for i := 0; i < 2; i++ { // the second time is a redelivery
		if err := b.svc.HandleKafka(ctx, ev); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}

	if n := b.probe.count("good"); n != 1 {
		t.Fatalf("the good job ran %d times", n)
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobCompleted); n != 1 {
		t.Fatalf("%d job-completed records", n)
	}
	envs, _ := read(t, b.brokers, envelope.TopicJobDeadLetter, 10)
	type seen struct {
		dl  envelope.JobDeadLetter
		env envelope.Envelope
		n   int
	}
	byID := map[string]*seen{}
	for _, e := range envs {
		var dl envelope.JobDeadLetter
		if err := e.DecodePayload(&dl); err != nil {
			t.Fatal(err)
		}
		if byID[e.EventID] == nil {
			byID[e.EventID] = &seen{dl: dl, env: e}
		}
		byID[e.EventID].n++
	}
	if len(byID) != 5 {
		t.Fatalf("%d distinct dead letters, want 5", len(byID))
	}
	for off := int64(1); off <= 5; off++ {
		id := worker.PoisonEventID(envelope.TopicRunJob, 0, off)
		s := byID[id]
		if s == nil || s.n != 2 {
			t.Fatalf("offset %d: dead letter %s seen %v", off, id, s)
		}
		dl := s.dl
		if dl.Reason != "POISON_RECORD" || dl.ErrorCode != worker.CodePoisonRecord || dl.LastError == "" || dl.Source == nil {
			t.Fatalf("offset %d: %+v", off, dl)
		}
		if dl.Source.Topic != envelope.TopicRunJob || dl.Source.Offset != off || dl.Source.Value != recs[off].Value {
			t.Fatalf("offset %d: source %+v", off, dl.Source)
		}
	}
	if e := byID[worker.PoisonEventID(envelope.TopicRunJob, 0, 1)].env; e.JobID != wrongVersion.JobID || e.TraceID != wrongVersion.TraceID {
		t.Fatalf("wrong-version dead letter should name the job it decoded: %+v", e)
	}
	if e := byID[worker.PoisonEventID(envelope.TopicRunJob, 0, 2)].env; e.JobID != created.JobID {
		t.Fatalf("wrong-type dead letter: %+v", e)
	}
	// An undecodable value: the job is named by the record's key.
	if e := byID[worker.PoisonEventID(envelope.TopicRunJob, 0, 4)].env; e.JobID != good.JobID {
		t.Fatalf("undecodable record's dead letter should name the job of its key %s: %+v", good.JobID, e)
	}
}

func TestRelayFailureRetriesWithoutRerunning(t *testing.T) {
	b := setup(t, worker.Config{})
	ctx := context.Background()
	dead := kafkatest.Producer(t, b.brokers)
	dead.Close() // every produce now fails at once
	broken, err := worker.New(worker.Config{Steps: b.probe.registry()}, &wiring.Deps{
		Pool: b.pool, Producer: dead, Relay: &outbox.Relay{Pool: b.pool, Producer: dead}, Log: b.deps.Log,
	})
	if err != nil {
		t.Fatal(err)
	}
	run := runJob(t, 1, `{"action":"COUNT","key":"job"}`)
	if err := broken.HandleKafka(ctx, batch(run)); err == nil {
		t.Fatal("HandleKafka succeeded with a failing relay")
	}
	if n, _, _ := outbox.Backlog(ctx, b.pool); n != 1 {
		t.Fatalf("outbox backlog = %d, want the result waiting", n)
	}
	// The event-source mapping retries the batch with a working relay.
	if err := b.svc.HandleKafka(ctx, batch(run)); err != nil {
		t.Fatal(err)
	}
	if n := b.probe.count("job"); n != 1 {
		t.Fatalf("steps ran %d times, want 1", n)
	}
	envs, _ := read(t, b.brokers, envelope.TopicJobCompleted, 1)
	if envs[0].JobID != run.JobID {
		t.Fatalf("published %+v", envs[0])
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobCompleted); n != 1 {
		t.Fatalf("%d job-completed records", n)
	}
}

func TestHTTPCallThroughTheGuard(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	call := `{"action":"HTTP_CALL","url":"` + srv.URL + `/ping"}`

	open := setup(t, worker.Config{HTTPAllowlist: []string{"127.0.0.1/32"}})
	if err := open.svc.HandleKafka(context.Background(), batch(runJob(t, 1, call))); err != nil {
		t.Fatal(err)
	}
	if n := kafkatest.Count(t, open.brokers, envelope.TopicJobCompleted); n != 1 {
		t.Fatal("allowlisted HTTP_CALL did not complete")
	}

	guarded := setup(t, worker.Config{})
	if err := guarded.svc.HandleKafka(context.Background(), batch(runJob(t, 1, call))); err != nil {
		t.Fatal(err)
	}
	envs, _ := read(t, guarded.brokers, envelope.TopicJobFailed, 1)
	if res := attemptResult(t, envs[0]); res.ErrorCode != worker.CodeStepFailed || !strings.Contains(res.Error, "ssrf") {
		t.Fatalf("loopback HTTP_CALL: %+v", res)
	}
}

func TestExecutionsEndpoint(t *testing.T) {
	b := setup(t, worker.Config{PageSizeMax: 50})
	ctx := context.Background()
	jobID := uuid.NewString()
	steps := []string{`{"action":"LOG","message":"go"}`, `{"action":"FAIL","message":"flaky","failTimes":1}`}
	first, second := runJobFor(t, jobID, 1, steps...), runJobFor(t, jobID, 2, steps...)
	// One attempt after the other: the second resumes the first's
	// finished step (LOG) and runs the one that failed.
	if err := b.svc.HandleKafka(ctx, batch(first)); err != nil {
		t.Fatal(err)
	}
	if err := b.svc.HandleKafka(ctx, batch(second)); err != nil {
		t.Fatal(err)
	}

	get := func(path string) (int, []byte) {
		t.Helper()
		return apigwtest.Call(ctx, t, b.svc.Handle, http.MethodGet, path, "")
	}
	type page = paging.Page[worker.Execution]
	decode := func(body []byte) page {
		t.Helper()
		var p page
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		return p
	}

	code, body := get("/internal/executions/" + jobID)
	p := decode(body)
	if code != 200 || len(p.Content) != 2 || p.TotalElements != 2 || p.Size != 20 {
		t.Fatalf("%d %s", code, body)
	}
	a1, a2 := p.Content[0], p.Content[1]
	if a1.Attempt != 1 || a1.Status != "FAILED" || a1.ErrorCode != worker.CodeStepFailed || a1.EventID != first.EventID || a1.JobID != jobID {
		t.Fatalf("attempt 1 = %+v", a1)
	}
	if a2.Attempt != 2 || a2.Status != "COMPLETED" || a2.ErrorCode != "" || len(a2.Steps) != 2 || a2.Steps[1].Status != "SUCCEEDED" ||
		!a2.Steps[0].Resumed || a2.Steps[1].Resumed {
		t.Fatalf("attempt 2 = %+v", a2)
	}
	if a1.TraceID != first.TraceID || a1.FinishedAt.Before(a1.StartedAt) {
		t.Fatalf("attempt 1 = %+v", a1)
	}

	code, body = get("/internal/executions/" + jobID + "?page=1&size=1")
	if p := decode(body); code != 200 || len(p.Content) != 1 || p.Content[0].Attempt != 2 || p.TotalPages != 2 || p.Page != 1 {
		t.Fatalf("page 1: %d %s", code, body)
	}
	code, body = get("/internal/executions/" + jobID + "?size=500")
	if p := decode(body); code != 200 || p.Size != 50 {
		t.Fatalf("capped size: %d %s", code, body)
	}
	code, body = get("/internal/executions/" + uuid.NewString())
	if code != 200 || !strings.Contains(string(body), `"content":[]`) {
		t.Fatalf("unknown job: %d %s", code, body)
	}

	for path, want := range map[string]string{
		"/internal/executions/not-a-uuid":            "WORKER.INVALID_REQUEST",
		"/internal/executions/" + jobID + "?page=-1": "WORKER.INVALID_REQUEST",
		"/internal/nothing":                          "WORKER.NOT_FOUND",
	} {
		code, body := get(path)
		var e struct {
			Status    int    `json:"status"`
			ErrorCode string `json:"errorCode"`
			TraceID   string `json:"traceId"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.ErrorCode != want || e.Status != code || e.TraceID == "" {
			t.Errorf("%s: %d %s, want %s", path, code, body, want)
		}
	}

	// The same handler over plain HTTP, as the local stack serves it.
	srv := httptest.NewServer(b.svc.HTTPHandler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/internal/executions/"+jobID, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE = %d", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/actuator/health", nil)
	req.Header.Set("X-Trace-Id", "my-trace")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Trace-Id") != "my-trace" {
		t.Fatalf("health = %d %v", resp.StatusCode, resp.Header)
	}
}

func TestHandleRejectsUnknownTriggers(t *testing.T) {
	b := setup(t, worker.Config{})
	for _, p := range []string{`{"detail-type":"Scheduled Event","source":"aws.events"}`, `[1]`, `{}`} {
		if _, err := b.svc.Handle(context.Background(), json.RawMessage(p)); err == nil {
			t.Errorf("Handle(%s) succeeded", p)
		}
	}
	// An empty Kafka batch is fine.
	if err := b.svc.HandleKafka(context.Background(), events.KafkaEvent{EventSource: "aws:kafka"}); err != nil {
		t.Fatal(err)
	}
	if err := b.svc.HandleKafka(context.Background(), kafka.Event("test", nil)); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := config.FromMap(map[string]string{})
	cfg := worker.ConfigFromEnv(env)
	if env.Err() != nil || cfg.Concurrency != worker.DefaultConcurrency() || cfg.IOConcurrency != worker.DefaultIOConcurrency || cfg.DeadlineMargin != time.Second || len(cfg.HTTPAllowlist) != 0 || cfg.PageSizeMax != 100 {
		t.Fatalf("defaults = %+v, %v", cfg, env.Err())
	}
	env = config.FromMap(map[string]string{
		"WORKER_CONCURRENCY": "4", "WORKER_IO_CONCURRENCY": "300", "WORKER_HTTP_ALLOWLIST": "10.0.0.0/8, internal.example.com", "WORKER_DEADLINE_MARGIN": "250ms",
	})
	cfg = worker.ConfigFromEnv(env)
	if env.Err() != nil || cfg.Concurrency != 4 || cfg.IOConcurrency != 300 || cfg.DeadlineMargin != 250*time.Millisecond || len(cfg.HTTPAllowlist) != 2 {
		t.Fatalf("cfg = %+v, %v", cfg, env.Err())
	}
	for name, v := range map[string]string{"WORKER_CONCURRENCY": "0", "WORKER_IO_CONCURRENCY": "10001", "WORKER_HTTP_ALLOWLIST": "10.0.0.0/8, bad host", "METRICS": "statsd"} {
		env = config.FromMap(map[string]string{name: v})
		worker.ConfigFromEnv(env)
		if env.Err() == nil || !strings.Contains(env.Err().Error(), name) {
			t.Errorf("%s=%s: err = %v", name, v, env.Err())
		}
	}

	deps := &wiring.Deps{Pool: setup(t, worker.Config{}).pool, Relay: &outbox.Relay{}}
	for name, cfg := range map[string]worker.Config{
		`"bad host"`:             {HTTPAllowlist: []string{"10.0.0.0/8", "bad host"}},
		"WORKER_CONCURRENCY":     {Concurrency: -1},
		"WORKER_IO_CONCURRENCY":  {IOConcurrency: 20000},
		"WORKER_DEADLINE_MARGIN": {DeadlineMargin: -time.Second},
		"WORKER_PAGE_SIZE_MAX":   {PageSizeMax: 5000},
		"METRICS":                {MetricsMode: "statsd"},
	} {
		if _, err := worker.New(cfg, deps); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("New(%+v) = %v, want an error naming %s", cfg, err, name)
		}
	}
	_, err := worker.New(worker.Config{HTTPAllowlist: []string{"10.0.0.0/99"}}, deps)
	if err == nil || !strings.Contains(err.Error(), "WORKER_HTTP_ALLOWLIST") || !strings.Contains(err.Error(), "10.0.0.0/99") {
		t.Fatalf("bad allowlist: %v", err)
	}
	if _, err := worker.New(worker.Config{}, &wiring.Deps{}); err == nil {
		t.Fatal("New without a pool succeeded")
	}
}
