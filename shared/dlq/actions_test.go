package dlq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/apigwtest"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// opsBundle is a dlq whose retries reach a contract scheduler.
type opsBundle struct {
	svc   *dlq.Service
	pool  *pgxpool.Pool
	sched *contractScheduler
}

func setupOps(tb testing.TB, cfg dlq.Config) opsBundle {
	tb.Helper()
	pool := pgtest.Pool(tb, dlq.Migrations())
	sched, inv := newContractScheduler()
	cfg.Scheduler = inv
	svc, err := dlq.New(cfg, deps(pool))
	if err != nil {
		tb.Fatal(err)
	}
	return opsBundle{svc, pool, sched}
}

func deps(pool *pgxpool.Pool) *wiring.Deps { return &wiring.Deps{Pool: pool, Log: logging.Discard()} }

// envelopeDL is a dead letter's payload, for deadLetter's mutators.
type envelopeDL = envelope.JobDeadLetter

// store stores one dead letter of reason and returns it.
func (b opsBundle) store(ctx context.Context, tb testing.TB, reason string) envelope.Envelope {
	tb.Helper()
	e := deadLetter(tb, reason)
	if err := b.svc.HandleKafka(ctx, batch(0, e)); err != nil {
		tb.Fatal(err)
	}
	return e
}

// call sends an internal request and decodes its body.
func (b opsBundle) call(ctx context.Context, tb testing.TB, method, path, body string) (int, map[string]any) {
	tb.Helper()
	status, out := apigwtest.Call(ctx, tb, b.svc.Handle, method, path, body)
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		tb.Fatalf("%s %s: %d %s", method, path, status, out)
	}
	return status, m
}

// TestRetryAndDismiss walks an entry through each action and every
// refusal, through the internal routes.
func TestRetryAndDismiss(t *testing.T) {
	b := setupOps(t, dlq.Config{})
	ctx := context.Background()
	retried := b.store(ctx, t, "RETRIES_EXHAUSTED")
	dismissed := b.store(ctx, t, "PERMANENT_FAILURE")
	refused := b.store(ctx, t, "RETRIES_EXHAUSTED")
	b.sched.set(func(c *contractScheduler) { c.status[refused.JobID] = internalapi.StatusCompleted })
	poisonEnv := deadLetter(t, "x")
	ev := batch(7, poisonEnv)
	ev.Records["job-dead-letter-1"][0].Value = "not base64 %%"
	if err := b.svc.HandleKafka(ctx, ev); err != nil {
		t.Fatal(err)
	}
	poisonID := dlq.PoisonEventID(envelope.TopicJobDeadLetter, 1, 7)
	unknown := uuid.NewString()

	for _, c := range []struct {
		name, path, body string
		status           int
		code, msg        string // an error's code and a part of its message
	}{
		{"retry", internalapi.DeadLetterRetryPath(retried.EventID), `{"by":"ops@example.com"}`, 202, "", ""},
		{"retry again", internalapi.DeadLetterRetryPath(retried.EventID), `{"by":"ops@example.com"}`, 409, "DLQ.ENTRY_NOT_NEW", "already RETRIED"},
		{"dismiss a retried", internalapi.DeadLetterDismissPath(retried.EventID), `{}`, 409, "DLQ.ENTRY_NOT_NEW", "already RETRIED"},
		{"dismiss", internalapi.DeadLetterDismissPath(dismissed.EventID), ``, 200, "", ""},
		{"dismiss again", internalapi.DeadLetterDismissPath(dismissed.EventID), ``, 409, "DLQ.ENTRY_NOT_NEW", "already DISMISSED"},
		{"retry a dismissed", internalapi.DeadLetterRetryPath(dismissed.EventID), ``, 409, "DLQ.ENTRY_NOT_NEW", "already DISMISSED"},
		{"retry a poison record", internalapi.DeadLetterRetryPath(poisonID), ``, 409, "DLQ.ENTRY_NOT_RETRYABLE", "POISON_RECORD"},
		{"retry a job the scheduler refuses", internalapi.DeadLetterRetryPath(refused.EventID), ``, 409, "DLQ.ENTRY_NOT_RETRYABLE", "COMPLETED"},
		{"dismiss a poison record", internalapi.DeadLetterDismissPath(poisonID), ``, 200, "", ""},
		{"retry unknown", internalapi.DeadLetterRetryPath(unknown), ``, 404, "DLQ.ENTRY_NOT_FOUND", ""},
		{"dismiss unknown", internalapi.DeadLetterDismissPath(unknown), ``, 404, "DLQ.ENTRY_NOT_FOUND", ""},
		{"retry a bad id", "/internal/dlq/nope/retry", ``, 400, "DLQ.INVALID_REQUEST", "UUID"},
		{"a bad body", internalapi.DeadLetterRetryPath(refused.EventID), `{"by":1}`, 400, "DLQ.INVALID_REQUEST", ""},
		{"an unknown field", internalapi.DeadLetterDismissPath(refused.EventID), `{"who":"me"}`, 400, "DLQ.INVALID_REQUEST", "who"},
	} {
		status, body := b.call(ctx, t, http.MethodPost, c.path, c.body)
		if status != c.status || (c.code != "" && body["errorCode"] != c.code) || !strings.Contains(fmt.Sprint(body["message"]), c.msg) {
			t.Errorf("%s: %d %v; want %d %s %q", c.name, status, body, c.status, c.code, c.msg)
		}
		if c.code == "" && (body["dlqId"] == nil || body["status"] == nil) {
			t.Errorf("%s: %v", c.name, body)
		}
	}

	e, err := b.svc.Get(ctx, retried.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != dlq.StatusRetried || e.ResolvedAt == nil || e.ResolvedBy != "ops@example.com" || e.RetriedJobAttempt == nil || *e.RetriedJobAttempt != 2 {
		t.Fatalf("retried entry = %+v", e)
	}
	if e, _ := b.svc.Get(ctx, dismissed.EventID); e.Status != dlq.StatusDismissed || e.ResolvedBy != "anonymous" || e.ResolvedAt == nil {
		t.Fatalf("dismissed entry = %+v", e)
	}
	if e, _ := b.svc.Get(ctx, refused.EventID); e.Status != dlq.StatusNew || e.ResolvedAt != nil {
		t.Fatalf("refused entry = %+v", e)
	}
	if b.sched.retried[retried.JobID] != 1 {
		t.Fatalf("the job was retried %d times", b.sched.retried[retried.JobID])
	}
}

// TestRetryResumesAfterACrash: an outage answers 503 and leaves the entry
// NEW; a dlq that died after the scheduler's answer but before its mark
// (the scheduler has the retry, the entry is NEW) is retried again: the
// scheduler answers the same 202, the job runs again once, the entry is
// RETRIED.
func TestRetryResumesAfterACrash(t *testing.T) {
	b := setupOps(t, dlq.Config{})
	ctx := context.Background()
	e := b.store(ctx, t, "RETRIES_EXHAUSTED")

	b.sched.set(func(c *contractScheduler) { c.down = true })
	status, body := b.call(ctx, t, http.MethodPost, internalapi.DeadLetterRetryPath(e.EventID), "")
	if status != http.StatusServiceUnavailable || body["errorCode"] != dlq.CodeSchedulerUnavailable {
		t.Fatalf("scheduler down: %d %v", status, body)
	}
	if got, _ := b.svc.Get(ctx, e.EventID); got.Status != dlq.StatusNew {
		t.Fatalf("after an outage the entry is %s", got.Status)
	}
	b.sched.set(func(c *contractScheduler) { c.down = false })

	// The crash: the scheduler took the retry, the mark never happened.
	first := retryDirect(ctx, t, b, e)
	status, body = b.call(ctx, t, http.MethodPost, internalapi.DeadLetterRetryPath(e.EventID), `{"by":"ops"}`)
	if status != http.StatusAccepted || body["status"] != dlq.StatusRetried || body["jobId"] != e.JobID {
		t.Fatalf("retry after the crash: %d %v", status, body)
	}
	got, _ := b.svc.Get(ctx, e.EventID)
	if got.Status != dlq.StatusRetried || got.RetriedJobAttempt == nil || *got.RetriedJobAttempt != first.NextAttempt {
		t.Fatalf("entry = %+v", got)
	}
	if n := b.sched.retried[e.JobID]; n != 1 {
		t.Fatalf("the job was retried %d times, want once", n)
	}
}

// retryDirect asks the scheduler for the retry as the dlq would, without
// marking the entry.
func retryDirect(ctx context.Context, tb testing.TB, b opsBundle, e envelope.Envelope) internalapi.JobRetryResponse {
	tb.Helper()
	body, _ := json.Marshal(internalapi.JobRetryRequest{DLQID: e.EventID, By: "ops"})
	status, out := apigwtest.Call(ctx, tb, b.sched.handle, http.MethodPost, internalapi.JobRetryPath(e.JobID), string(body))
	var r internalapi.JobRetryResponse
	if status != http.StatusAccepted || json.Unmarshal(out, &r) != nil {
		tb.Fatalf("direct retry: %d %s", status, out)
	}
	return r
}
