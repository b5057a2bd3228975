package emulator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/faulttest"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/stacktest"
	"github.com/jobweaver/jobweaver/shared/testwait"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// badEvents invokes the functions directly with malformed trigger events
// (testdata/events): each is a clear error, or for records that cannot be
// decoded, a dead letter while the invocation succeeds.
func badEvents(t *testing.T, s *stack) {
	cases := []struct {
		file, fn string
		wantErr  string // a function error containing this
		status   int    // else an HTTP response with this status
	}{
		{"worker-wrong-shape.json", "worker", "worker: decode Kafka event: json: cannot unmarshal", 0},
		{"worker-bad-headers.json", "worker", "worker: decode Kafka event", 0},
		{"worker-poison-records.json", "worker", "", 0},
		{"dlq-wrong-shape.json", "dlq", "dlq: decode Kafka event: json: cannot unmarshal array", 0},
		{"dlq-poison-record.json", "dlq", "", 0},
		{"api-bad-base64-body.json", "api", "api (jobweaver-api) failed: wrapError: apigw: body is not valid base64", 0},
		{"api-missing-headers.json", "api", "", http.StatusUnsupportedMediaType},
		{"scheduler-not-an-object.json", "scheduler", "scheduler: trigger: payload is not a JSON object", 0},
		{"scheduler-unknown-shape.json", "scheduler", "scheduler: unsupported trigger payload (not Kafka, schedule or API Gateway v2)", 0},
	}
	ctx, cancel := context.WithTimeout(context.Background(), stacktest.Bound)
	defer cancel()
	for _, c := range cases {
		payload, err := os.ReadFile(filepath.Join("testdata", "events", c.file))
		if err != nil {
			t.Fatal(err)
		}
		// Twice: a redelivery changes nothing.
		for range 2 {
			out, err := s.cluster.Invoke(ctx, c.fn, payload)
			switch {
			case c.wantErr != "":
				var fe *invoke.FunctionError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("%s: %v (%s); want a function error …%s…", c.file, err, out, c.wantErr)
				}
			case err != nil:
				t.Errorf("%s: %v", c.file, err)
			case c.status != 0:
				if !strings.Contains(string(out), fmt.Sprintf(`"statusCode":%d`, c.status)) {
					t.Errorf("%s: %s; want status %d", c.file, out, c.status)
				}
			case string(out) != "null":
				t.Errorf("%s: %s; want null", c.file, out)
			}
		}
		t.Logf("%-30s -> %s", c.file, describe(s.cluster, c.fn, ctx, payload))
	}
	// The undecodable records are dead letters, once each, with their
	// error and where they came from.
	for _, p := range []struct {
		id, code, errPart string
		offset            float64
	}{
		{worker.PoisonEventID(envelope.TopicRunJob, 5, 900001), "WORKER.POISON_RECORD", "base64", 900001},
		{worker.PoisonEventID(envelope.TopicRunJob, 5, 900002), "WORKER.POISON_RECORD", "", 900002},
		{dlq.PoisonEventID(envelope.TopicJobDeadLetter, 2, 900003), "DLQ.POISON_RECORD", "base64", 900003},
	} {
		e := s.WaitDeadLetter(t, "poison "+p.id, func(e map[string]any) bool { return e["id"] == p.id })
		src, _ := e["source"].(map[string]any)
		if e["reason"] != "POISON_RECORD" || e["errorCode"] != p.code || !strings.Contains(fmt.Sprint(e["lastError"]), p.errPart) || src["offset"] != p.offset {
			t.Errorf("poison dead letter %v", e)
		}
	}
	n := 0
	for _, e := range s.DeadLetters(t) {
		if src, ok := e["source"].(map[string]any); ok && src["offset"].(float64) >= 900001 && src["offset"].(float64) <= 900003 {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d dead letters for the 3 poison records invoked twice", n)
	}

	// A Kafka batch a mapping gave up on, from the mapping-failures queue
	// (SQS): stored once, its records produced again, a partial batch
	// response that reports nothing.
	failure, err := os.ReadFile(filepath.Join("..", "..", "events", "dlq", "mapping-failure.json"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if out, err := s.cluster.Invoke(ctx, "dlq", failure); err != nil || string(out) != `{"batchItemFailures":null}` {
			t.Errorf("mapping failure: %s, %v; want an empty partial batch response", out, err)
		}
	}
	id := dlq.MappingFailureID(envelope.TopicJobCreated, 0, 0, 2)
	e := s.WaitDeadLetter(t, "the mapping failure", func(e map[string]any) bool { return e["id"] == id })
	if e["reason"] != dlq.ReasonMappingFailure || (e["status"] != dlq.StatusReplayed && e["status"] != dlq.StatusPartlyReplayed) {
		t.Errorf("mapping failure entry %v", e)
	}
}

// describe says what an invocation answers, for the log.
func describe(c *Cluster, fn string, ctx context.Context, payload []byte) string {
	out, err := c.Invoke(ctx, fn, payload)
	if err != nil {
		return err.Error()
	}
	if len(out) > 200 {
		out = append(out[:200], "…"...)
	}
	return string(out)
}

// poisonRecords: records nobody can decode, on every topic, end in the
// DLQ, and jobs behind them still complete.
func poisonRecords(t *testing.T, s *stack) {
	before := s.Count(t, "dlq", `SELECT count(*) FROM dead_letters WHERE reason = 'POISON_RECORD'`)
	prod := kafkatest.Producer(t, s.Brokers)
	n := 0
	for _, topic := range []string{envelope.TopicJobCreated, envelope.TopicRunJob, envelope.TopicJobCompleted, envelope.TopicJobFailed} {
		for p := int32(0); p < 6; p += 2 {
			r := &kgo.Record{Topic: topic, Partition: p, Value: []byte(`{"this is":"not an envelope"`)}
			if err := prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: envelope.TopicJobDeadLetter, Value: []byte{0xff, 0x00}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	n++
	var ids []string
	for range 6 {
		ids = append(ids, s.Submit(t, stacktest.JobJSON(`{"action":"LOG","message":"behind poison"}`, 0)))
	}
	for _, id := range ids {
		s.WaitStatus(t, id, "COMPLETED")
	}
	testwait.Eventually(t, stacktest.Bound, fmt.Sprintf("%d more poison entries in the DLQ", n), func() bool {
		return s.Count(t, "dlq", `SELECT count(*) FROM dead_letters WHERE reason = 'POISON_RECORD'`) == before+n
	})
}

// databaseOutage: while the worker's database refuses connections, its
// handler returns an error for a batch holding a poison record (the
// emulator's answer carries no X-Amz-Function-Error, so only the payload
// says so); the event-source mapping retries the same batch, and once
// the database is back the poison record ends in the DLQ, once.
func databaseOutage(t *testing.T, s *stack) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, s.Admin)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	db := pgx.Identifier{s.Prefix + "_worker"}.Sanitize()
	allow := func(on bool) {
		if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s WITH ALLOW_CONNECTIONS %v", db, on)); err != nil {
			t.Fatal(err)
		}
	}
	allow(false)
	restored := false
	defer func() {
		if !restored {
			allow(true)
		}
	}()
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, s.Prefix+"_worker"); err != nil {
		t.Fatal(err)
	}
	failed := func() int {
		n := 0
		for _, inv := range s.cluster.Invocations("worker") {
			if inv.Failed != "" {
				n++
			}
		}
		return n
	}
	before := failed()
	prod := kafkatest.Producer(t, s.Brokers)
	res := prod.ProduceSync(ctx, &kgo.Record{Topic: envelope.TopicRunJob, Partition: 3, Value: []byte("poison during an outage")})
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	rec := res[0].Record
	testwait.Eventually(t, stacktest.Bound, "the worker fails the batch twice", func() bool { return failed() >= before+2 })
	var kinds []string
	for _, inv := range s.cluster.Invocations("worker") {
		if inv.Failed != "" {
			kinds = append(kinds, inv.Failed)
		}
	}
	t.Logf("worker invocations failed during the outage: %d (error types %v)", failed()-before, kinds[before:])
	allow(true)
	restored = true
	id := worker.PoisonEventID(rec.Topic, int64(rec.Partition), rec.Offset)
	s.WaitDeadLetter(t, "the poison record after the outage", func(e map[string]any) bool { return e["id"] == id })
	// At rest: the worker committed past the poison record (no batch of it
	// will come again), its outbox is empty and the dlq consumed every
	// dead letter; a duplicate would be stored by now.
	testwait.Eventually(t, stacktest.Bound, "every record consumed and the worker's outbox empty", func() bool {
		lag, err := faulttest.Lag(s.Brokers)
		return err == nil && lag == 0 && s.Count(t, "worker", `SELECT count(*) FROM outbox`) == 0
	})
	n := 0
	for _, e := range s.DeadLetters(t) {
		if e["id"] == id {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d dead letters for one poison record", n)
	}
}

// largeJobsList: a page of jobs whose payloads add up to over Lambda's
// 6 MB response limit is answered, through the emulator's real limit: list
// items are summaries without payloads, and each job's own route still
// has its whole payload. (A response over the limit is mapped to a clear
// error: the devstack front's and the api's unit tests.)
func largeJobsList(t *testing.T, s *stack) {
	msg := strings.Repeat("x", 4000)
	var steps []string
	for range 60 {
		steps = append(steps, fmt.Sprintf(`{"action":"LOG","message":%q}`, msg))
	}
	body := stacktest.JobJSON(strings.Join(steps, ","), 0)
	if len(body) > 262144 {
		t.Fatalf("job body %d bytes: over the API's limit", len(body))
	}
	trace := "big-" + s.Prefix
	const jobs = 30 // 30 × 245 KB: over 6 MB in one page
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs / 5 {
				s.Submit(t, body, "X-Trace-Id", trace)
			}
		}()
	}
	wg.Wait()
	testwait.Eventually(t, stacktest.Bound, "the scheduler has ingested the big jobs", func() bool {
		r := s.Do(t, http.MethodGet, "/api/jobs?size=1&traceId="+trace, "")
		return r.Status == 200 && r.JSON(t)["totalElements"] == float64(jobs)
	})

	r := s.Do(t, http.MethodGet, fmt.Sprintf("/api/jobs?size=%d&traceId=%s", jobs, trace), "")
	t.Logf("GET /api/jobs?size=%d (payloads of about %d MB) -> %d, %d bytes", jobs, jobs*len(body)/1e6, r.Status, len(r.Body))
	if r.Status != http.StatusOK || len(r.JSON(t)["content"].([]any)) != jobs || strings.Contains(string(r.Body), msg) || len(r.Body) > 64<<10 {
		t.Fatalf("large jobs' list through the api: %d, %d bytes: %.300s", r.Status, len(r.Body), r.Body)
	}
	first := r.JSON(t)["content"].([]any)[0].(map[string]any)
	if _, ok := first["payload"]; ok {
		t.Errorf("a list item carries a payload: %v", first)
	}
	r = stacktest.Do(t, s.SchedulerURL, http.MethodGet, fmt.Sprintf("/internal/jobs?size=%d&traceId=%s", jobs, trace), "")
	if r.Status != http.StatusOK || strings.Contains(string(r.Body), msg) {
		t.Errorf("large jobs' internal list: %d %.300s", r.Status, r.Body)
	}
	for _, inv := range s.cluster.Invocations("scheduler") {
		if inv.Failed == invoke.ErrorTypeResponseTooLarge {
			t.Errorf("a scheduler invocation failed as too large")
		}
	}
	r = s.Do(t, http.MethodGet, "/api/jobs/"+first["jobId"].(string), "")
	if r.Status != http.StatusOK || strings.Count(string(r.Body), msg) != 60 {
		t.Errorf("the job's own route: %d, %d bytes", r.Status, len(r.Body))
	}
}

func TestFunctionTimeout(t *testing.T) {
	// The worker stops its steps WORKER_DEADLINE_MARGIN (1 s) before the
	// 2 s timeout: the attempt yields (durable resume), uncharged, and the
	// next resumes after the LOG. A SLEEP (run in place:
	// WORKER_PARK_THRESHOLD=-1) longer than any invocation never finishes:
	// after WORKER_MAX_IDLE_YIELDS (3) yields without progress the job
	// fails for good and is dead-lettered.
	t.Run("steps cut off before the deadline yield until they cannot progress", func(t *testing.T) {
		t.Parallel()
		s := startStack(t, true, map[string]string{"SCHEDULER_LEASE": "5s", "WORKER_PARK_THRESHOLD": "-1s"},
			map[string]FunctionSettings{"worker": {Timeout: 2 * time.Second, Instances: 1}})
		id := s.Submit(t, stacktest.JobJSON(`{"action":"LOG","message":"long"},{"action":"SLEEP","durationMs":5000}`, 1))
		job := s.WaitStatus(t, id, "FAILED")
		ex := s.Do(t, http.MethodGet, "/api/jobs/"+id+"/executions", "").JSON(t)
		t.Logf("job %v: attempts %v, last error %v", job["status"], job["attempts"], job["lastError"])
		// 1: the LOG, then a yield; 2 and 3: idle yields; 4: the third idle
		// yield fails the job.
		if job["attempts"] != float64(4) || job["lastErrorCode"] != worker.CodeStepExceedsTimeout || ex["totalElements"] != float64(4) {
			t.Errorf("job %v, executions %v", job, ex)
		}
		s.WaitDeadLetter(t, "the timed-out job", func(e map[string]any) bool { return e["jobId"] == id && e["reason"] == "PERMANENT_FAILURE" })
		for _, inv := range s.cluster.Invocations("worker") {
			if inv.Failed == invoke.ErrorTypeTimeout {
				t.Errorf("the worker ran into its timeout: %+v", inv)
			}
		}
	})
	// Without a margin the runtime's deadline comes first: the invocation
	// times out (or fails at its deadline) every time it is retried, and
	// its partition is blocked. The scheduler's lease (renewed each time
	// the retried record starts the attempt again) rescues the job once a
	// retry comes later than it, and the job is dead-lettered, not lost.
	// The next retry's record is then refused by the scheduler: that
	// invocation runs nothing and succeeds, which unblocks the partition.
	t.Run("a timed-out invocation is rescued by the lease", func(t *testing.T) {
		t.Parallel()
		s := startStack(t, true, map[string]string{"SCHEDULER_LEASE": "3s", "WORKER_DEADLINE_MARGIN": "0s", "WORKER_PARK_THRESHOLD": "-1s"},
			map[string]FunctionSettings{"worker": {Timeout: 2 * time.Second, Instances: 1}})
		id := s.Submit(t, stacktest.JobJSON(`{"action":"LOG","message":"long"},{"action":"SLEEP","durationMs":5000}`, 0))
		job := s.WaitStatus(t, id, "FAILED")
		t.Logf("job %v: attempts %v, last error %v", job["status"], job["attempts"], job["lastError"])
		if job["lastErrorCode"] != "SCHEDULER.LEASE_EXPIRED" {
			t.Errorf("job %v", job)
		}
		s.WaitDeadLetter(t, "the rescued job", func(e map[string]any) bool { return e["jobId"] == id })
		// The event-source mapping retries the failed batch until a retry
		// finds the job rescued: its record is refused, nothing runs.
		testwait.Eventually(t, stacktest.Bound, "a retried batch succeeds once its job is rescued", func() bool {
			invs := s.cluster.Invocations("worker")
			return len(invs) > 0 && invs[len(invs)-1].Failed == ""
		})
		var kinds []string
		for _, inv := range s.cluster.Invocations("worker") {
			kinds = append(kinds, inv.Failed)
		}
		t.Logf("worker invocations: %q", kinds)
		if len(kinds) < 2 || kinds[0] == "" {
			t.Errorf("worker invocations %q; want failures, then one that succeeds", kinds)
		}
	})
}
