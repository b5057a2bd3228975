package dlq_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/apigwtest"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/paging"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

func setup(tb testing.TB, cfg dlq.Config) (*dlq.Service, *pgxpool.Pool) {
	tb.Helper()
	pool := pgtest.Pool(tb, dlq.Migrations())
	svc, err := dlq.New(cfg, &wiring.Deps{Pool: pool, Log: logging.Discard()})
	if err != nil {
		tb.Fatal(err)
	}
	return svc, pool
}

func deadLetter(tb testing.TB, reason string, mutate ...func(*envelope.JobDeadLetter)) envelope.Envelope {
	tb.Helper()
	failed := time.Now().UTC().Truncate(time.Millisecond)
	dl := envelope.JobDeadLetter{
		JobSpec: envelope.JobSpec{
			JobType:       "SIMULATION",
			Payload:       json.RawMessage(`{"steps":[{"action":"FAIL","message":"immediate failure"}]}`),
			MaxRetryCount: 1,
		},
		Reason:    reason,
		ErrorCode: "WORKER.STEP_FAILED",
		LastError: "step 0 (FAIL) failed: immediate failure",
		Attempts: []envelope.AttemptSummary{
			{Attempt: 1, DispatchedAt: failed.Add(-2 * time.Second), FinishedAt: &failed, DurationMs: 3, Outcome: "FAILED", ErrorCode: "WORKER.STEP_FAILED", Error: "boom 1"},
			{Attempt: 2, DispatchedAt: failed.Add(-time.Second), DurationMs: 0, Outcome: "LEASE_EXPIRED"},
		},
		FailedAt: failed,
	}
	for _, m := range mutate {
		m(&dl)
	}
	e, err := envelope.New(envelope.TypeJobDeadLetter, "trace-"+uuid.NewString()[:8], uuid.NewString(), dl)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// batch builds a job-dead-letter event; record i is at offset base+i.
func batch(base int64, envs ...envelope.Envelope) events.KafkaEvent {
	recs := make([]*kgo.Record, len(envs))
	for i, e := range envs {
		r := kafka.Record(e)
		r.Topic, r.Partition, r.Offset = envelope.TopicJobDeadLetter, 1, base+int64(i)
		recs[i] = r
	}
	return kafka.Event("test", recs)
}

func count(tb testing.TB, pool *pgxpool.Pool) int {
	tb.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM dead_letters`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestStoresOncePerEventID(t *testing.T) {
	svc, pool := setup(t, dlq.Config{})
	ctx := context.Background()
	e := deadLetter(t, "RETRIES_EXHAUSTED")

	payload, err := json.Marshal(batch(0, e, e))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Handle(ctx, payload); err != nil { // as Lambda calls it
		t.Fatal(err)
	}
	if err := svc.HandleKafka(ctx, batch(2, e)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}

	got, err := svc.Get(ctx, e.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != e.EventID || got.JobID != e.JobID || got.TraceID != e.TraceID || got.JobType != "SIMULATION" ||
		got.Reason != "RETRIES_EXHAUSTED" || got.ErrorCode != "WORKER.STEP_FAILED" || got.Status != "NEW" || got.Source != nil {
		t.Fatalf("entry = %+v", got)
	}
	if got.Job == nil || got.Job.MaxRetryCount != 1 || !strings.Contains(string(got.Job.Payload), "immediate failure") {
		t.Fatalf("job = %+v", got.Job)
	}
	if len(got.Attempts) != 2 || got.Attempts[0].Error != "boom 1" || got.Attempts[1].Outcome != "LEASE_EXPIRED" || got.Attempts[1].FinishedAt != nil {
		t.Fatalf("attempts = %+v", got.Attempts)
	}
	if got.FailedAt == nil || got.ReceivedAt.IsZero() {
		t.Fatalf("times = %v %v", got.FailedAt, got.ReceivedAt)
	}
}

func TestPoisonRecordsAreStored(t *testing.T) {
	svc, pool := setup(t, dlq.Config{})
	ctx := context.Background()
	good := deadLetter(t, "PERMANENT_FAILURE")
	wrongType, err := envelope.New(envelope.TypeRunJob, "trace-rj", uuid.NewString(), envelope.RunJob{Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	ev := batch(10, good, wrongType, good, good) // offsets 10..13
	recs := ev.Records["job-dead-letter-1"]
	recs[2].Value = "%%% not base64 %%%"
	recs[3].Value = base64.StdEncoding.EncodeToString([]byte("{\"eventId\": \x00 nope"))

	for i := 0; i < 2; i++ {
		if err := svc.HandleKafka(ctx, ev); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	if n := count(t, pool); n != 4 {
		t.Fatalf("%d rows, want 4 (one good, three poison)", n)
	}
	for off := int64(11); off <= 13; off++ {
		e, err := svc.Get(ctx, dlq.PoisonEventID(envelope.TopicJobDeadLetter, 1, off))
		if err != nil {
			t.Fatalf("offset %d: %v", off, err)
		}
		if e.Reason != dlq.ReasonPoisonRecord || e.ErrorCode != dlq.CodePoisonRecord || e.LastError == "" || e.Source == nil || e.Job != nil {
			t.Fatalf("offset %d: %+v", off, e)
		}
		if e.Source.Topic != envelope.TopicJobDeadLetter || e.Source.Partition != 1 || e.Source.Offset != off || e.Source.Value != recs[off-10].Value {
			t.Fatalf("offset %d: source %+v", off, e.Source)
		}
	}
	e, _ := svc.Get(ctx, dlq.PoisonEventID(envelope.TopicJobDeadLetter, 1, 11))
	if e.JobID != wrongType.JobID || e.TraceID != "trace-rj" {
		t.Fatalf("wrong-type entry should keep the job and trace it decoded: %+v", e)
	}
}

func TestWorkerPoisonDeadLetterIsStoredAsSent(t *testing.T) {
	// A dead letter some consumer wrote for its own poison record.
	svc, _ := setup(t, dlq.Config{})
	ctx := context.Background()
	src := envelope.PoisonSource{Topic: "run-job", Partition: 4, Offset: 99, Value: "bm9wZQ=="}
	e := deadLetter(t, "POISON_RECORD", func(dl *envelope.JobDeadLetter) {
		dl.JobSpec = envelope.JobSpec{}
		dl.Attempts = nil
		dl.ErrorCode = "WORKER.POISON_RECORD"
		dl.Source = &src
	})
	e.JobID = ""
	if err := svc.HandleKafka(ctx, batch(0, e)); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Get(ctx, e.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Job != nil || got.JobID != "" || got.ErrorCode != "WORKER.POISON_RECORD" || got.Source == nil || *got.Source != src || len(got.Attempts) != 0 {
		t.Fatalf("entry = %+v", got)
	}
}

func TestUnstorableValuesNeverFailTheBatch(t *testing.T) {
	svc, pool := setup(t, dlq.Config{})
	ctx := context.Background()
	nul := deadLetter(t, "RETRIES_EXHAUSTED", func(dl *envelope.JobDeadLetter) {
		dl.Payload = json.RawMessage(`{"steps":[{"action":"LOG","message":"a\u0000b \ud800"}],"k\u0000":1}`)
		dl.LastError = "nul \x00 here"
		dl.Attempts[0].Error = "\x00"
	})
	nul.TraceID = "t\x00"
	huge := deadLetter(t, "RETRIES_EXHAUSTED", func(dl *envelope.JobDeadLetter) {
		dl.Payload = json.RawMessage(`{"steps":[],"n":1e1000000}`) // numeric overflow in jsonb
	})
	plain := deadLetter(t, "RETRIES_EXHAUSTED")
	if err := svc.HandleKafka(ctx, batch(0, nul, huge, plain)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool); n != 3 {
		t.Fatalf("%d rows, want 3", n)
	}
	got, err := svc.Get(ctx, nul.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastError != "nul  here" || got.TraceID != "t" || !strings.Contains(string(got.Job.Payload), `"ab \ufffd"`) && !strings.Contains(string(got.Job.Payload), "ab \uFFFD") {
		t.Fatalf("cleaned entry = %+v payload %s", got, got.Job.Payload)
	}
	got, err = svc.Get(ctx, huge.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Job != nil || !strings.Contains(got.LastError, "could not be stored") || got.Reason != "RETRIES_EXHAUSTED" {
		t.Fatalf("degraded entry = %+v", got)
	}
	if got, err := svc.Get(ctx, plain.EventID); err != nil || got.Job == nil || len(got.Attempts) != 2 {
		t.Fatalf("plain entry beside a bad one = %+v, %v", got, err)
	}
}

func TestListAndGetEndpoints(t *testing.T) {
	svc, _ := setup(t, dlq.Config{PageSizeMax: 3})
	ctx := context.Background()
	var ids []string // in the order received
	for i := 0; i < 3; i++ {
		a, b := deadLetter(t, "RETRIES_EXHAUSTED"), deadLetter(t, "PERMANENT_FAILURE")
		if err := svc.HandleKafka(ctx, batch(int64(10*i), a, b)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.EventID, b.EventID)
	}

	get := func(path string) (int, []byte) {
		t.Helper()
		return apigwtest.Call(ctx, t, svc.Handle, http.MethodGet, path, "")
	}
	type page = paging.Page[dlq.Entry]
	var all []dlq.Entry
	for pg := 0; pg < 3; pg++ {
		code, body := get("/internal/dlq?size=2&page=" + string(rune('0'+pg)))
		var p page
		if err := json.Unmarshal(body, &p); err != nil || code != 200 {
			t.Fatalf("page %d: %d %s", pg, code, body)
		}
		if p.TotalElements != 6 || p.TotalPages != 3 || p.Size != 2 || p.Page != pg || len(p.Content) != 2 {
			t.Fatalf("page %d: %s", pg, body)
		}
		all = append(all, p.Content...)
	}
	// Newest batch first; within a batch (same received_at) by event ID,
	// descending.
	for i := 0; i < 3; i++ {
		pair := []string{ids[4-2*i], ids[5-2*i]}
		if pair[0] < pair[1] {
			pair[0], pair[1] = pair[1], pair[0]
		}
		if all[2*i].ID != pair[0] || all[2*i+1].ID != pair[1] {
			t.Fatalf("order: got %s %s at %d, want %v", all[2*i].ID, all[2*i+1].ID, 2*i, pair)
		}
		if all[2*i].ReceivedAt.Before(all[min(2*i+2, 5)].ReceivedAt) {
			t.Fatal("not newest first")
		}
	}
	code, body := get("/internal/dlq")
	if p := (page{}); json.Unmarshal(body, &p) != nil || code != 200 || p.Size != 3 || len(p.Content) != 3 {
		t.Fatalf("default page: %d %s", code, body)
	}
	code, body = get("/internal/dlq?page=9")
	if code != 200 || !strings.Contains(string(body), `"content":[]`) || !strings.Contains(string(body), `"totalElements":6`) {
		t.Fatalf("page beyond the end: %d %s", code, body)
	}

	code, body = get("/internal/dlq/" + ids[0])
	var e dlq.Entry
	if err := json.Unmarshal(body, &e); err != nil || code != 200 || e.ID != ids[0] || e.Reason != "RETRIES_EXHAUSTED" {
		t.Fatalf("get: %d %s", code, body)
	}
	for path, want := range map[string]struct {
		status int
		code   string
	}{
		"/internal/dlq/" + uuid.NewString(): {404, "DLQ.ENTRY_NOT_FOUND"},
		"/internal/dlq/not-a-uuid":          {400, "DLQ.INVALID_REQUEST"},
		"/internal/dlq?size=0":              {400, "DLQ.INVALID_REQUEST"},
		"/internal/dlq?cursor=x":            {400, "DLQ.INVALID_CURSOR"},
		"/internal/elsewhere":               {404, "DLQ.NOT_FOUND"},
	} {
		code, body := get(path)
		var b struct {
			Status    int    `json:"status"`
			ErrorCode string `json:"errorCode"`
			TraceID   string `json:"traceId"`
		}
		if err := json.Unmarshal(body, &b); err != nil || code != want.status || b.Status != want.status || b.ErrorCode != want.code || b.TraceID == "" {
			t.Errorf("%s: %d %s, want %d %s", path, code, body, want.status, want.code)
		}
	}

	srv := httptest.NewServer(svc.HTTPHandler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/internal/dlq", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST = %d", resp.StatusCode)
	}
	resp, err = http.Get(srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health = %d", resp.StatusCode)
	}
}

func TestHandleRejectsUnknownTriggers(t *testing.T) {
	svc, _ := setup(t, dlq.Config{})
	for _, p := range []string{`{"detail-type":"Scheduled Event"}`, `"x"`, `{}`} {
		if _, err := svc.Handle(context.Background(), json.RawMessage(p)); err == nil {
			t.Errorf("Handle(%s) succeeded", p)
		}
	}
	if err := svc.HandleKafka(context.Background(), events.KafkaEvent{}); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := config.FromMap(nil)
	if cfg := dlq.ConfigFromEnv(env); cfg.PageSizeMax != 100 || env.Err() != nil {
		t.Fatalf("defaults = %+v %v", cfg, env.Err())
	}
	env = config.FromMap(map[string]string{"DLQ_PAGE_SIZE_MAX": "25"})
	if cfg := dlq.ConfigFromEnv(env); cfg.PageSizeMax != 25 || env.Err() != nil {
		t.Fatalf("cfg = %+v %v", cfg, env.Err())
	}
	env = config.FromMap(map[string]string{"DLQ_PAGE_SIZE_MAX": "lots"})
	if dlq.ConfigFromEnv(env); env.Err() == nil || !strings.Contains(env.Err().Error(), "DLQ_PAGE_SIZE_MAX") {
		t.Fatalf("err = %v", env.Err())
	}
	if _, err := dlq.New(dlq.Config{}, &wiring.Deps{}); err == nil {
		t.Fatal("New without a pool succeeded")
	}
}
