package worker_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/step"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// callbackPayload: a SCRIPT, a wait for approval (1 hour), a SCRIPT that
// reads its body.
const callbackPayload = `{"steps":[
	{"id":"pre","action":"SCRIPT","source":"result = {\"n\": 1}"},
	{"id":"approval","action":"WAIT_FOR_CALLBACK","timeoutMs":3600000},
	{"id":"post","action":"SCRIPT","source":"result = {\"approved\": outputs[\"approval\"][\"approved\"], \"n\": outputs[\"pre\"][\"n\"]}"}]}`

// callbackJob is a run-job of a DATA_PIPELINE job carrying c.
func callbackJob(tb testing.TB, jobID string, attempt int, payload string, c *envelope.CallbackResult) envelope.Envelope {
	tb.Helper()
	e, err := envelope.New(envelope.TypeRunJob, "trace-"+jobID[:8], jobID, envelope.RunJob{
		JobSpec: envelope.JobSpec{JobType: "DATA_PIPELINE", Payload: json.RawMessage(payload), MaxRetryCount: 0},
		Attempt: attempt, DispatchedAt: time.Now().UTC(), Callback: c,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// The wait parks the attempt (awaitCallback, parkUntil its timeout) after
// checkpointing the step before it; the attempt whose run-job carries the
// body resumes, makes the body the step's output and the next SCRIPT
// reads it.
func TestCallbackParksThenResumesWithTheBody(t *testing.T) {
	b := setup(t, worker.Config{})
	jobID := uuid.NewString()
	before := time.Now()
	if err := b.svc.HandleKafka(context.Background(), batch(callbackJob(t, jobID, 1, callbackPayload, nil))); err != nil {
		t.Fatal(err)
	}
	envs, _ := read(t, b.brokers, envelope.TopicJobFailed, 1)
	r := attemptResult(t, envs[0])
	if got := stepStatuses(r); got != "SCRIPT:SUCCEEDED,WAIT_FOR_CALLBACK:PARKED,SCRIPT:SKIPPED" {
		t.Fatalf("steps %s", got)
	}
	if r.ErrorCode != worker.CodeParked || r.Permanent || r.ParkUntil == nil || r.AwaitCallback == nil ||
		r.AwaitCallback.StepIndex != 1 || r.AwaitCallback.StepID != "approval" {
		t.Fatalf("parked result %+v (await %+v)", r, r.AwaitCallback)
	}
	if d := r.ParkUntil.Sub(before); d < time.Hour || d > time.Hour+time.Minute {
		t.Fatalf("parkUntil %s is not the timeout after the start", r.ParkUntil)
	}

	// A redelivery of attempt 1 still parks (no result yet); attempt 2
	// carries another step's result: it parks again.
	other := &envelope.CallbackResult{StepIndex: 7, Body: json.RawMessage(`{}`)}
	if err := b.svc.HandleKafka(context.Background(), batch(callbackJob(t, jobID, 2, callbackPayload, other))); err != nil {
		t.Fatal(err)
	}
	envs, _ = read(t, b.brokers, envelope.TopicJobFailed, 2)
	if r := attemptResult(t, envs[1]); r.AwaitCallback == nil || !r.Steps[0].Resumed {
		t.Fatalf("attempt with another step's result: %+v", r)
	}

	body := `{"approved":true,"note":"<b>&amp;</b>"}`
	c := &envelope.CallbackResult{StepIndex: 1, Body: json.RawMessage(body)}
	if err := b.svc.HandleKafka(context.Background(), batch(callbackJob(t, jobID, 3, callbackPayload, c))); err != nil {
		t.Fatal(err)
	}
	done, _ := read(t, b.brokers, envelope.TopicJobCompleted, 1)
	r = attemptResult(t, done[0])
	if got := stepStatuses(r); got != "SCRIPT:SUCCEEDED,WAIT_FOR_CALLBACK:SUCCEEDED,SCRIPT:SUCCEEDED" || !r.Steps[0].Resumed || r.Steps[1].Resumed {
		t.Fatalf("steps %s %+v", got, r.Steps)
	}
	ex := executions(t, b, jobID)
	last := ex[0]
	for _, e := range ex {
		if e.Attempt > last.Attempt {
			last = e
		}
	}
	// Kept as jsonb: the same JSON, its keys perhaps in another order.
	if last.Attempt != 3 || !sameJSON(t, last.Steps[1].Output, body) || !sameJSON(t, last.Steps[2].Output, `{"approved":true,"n":1}`) {
		t.Fatalf("attempt %d outputs: %s / %s", last.Attempt, last.Steps[1].Output, last.Steps[2].Output)
	}
}

// A timeout fails the step permanently with WORKER.CALLBACK_TIMEOUT.
func TestCallbackTimeoutFailsPermanently(t *testing.T) {
	b := setup(t, worker.Config{})
	jobID := uuid.NewString()
	c := &envelope.CallbackResult{StepIndex: 1, TimedOut: true}
	if err := b.svc.HandleKafka(context.Background(), batch(callbackJob(t, jobID, 2, callbackPayload, c))); err != nil {
		t.Fatal(err)
	}
	envs, _ := read(t, b.brokers, envelope.TopicJobFailed, 1)
	r := attemptResult(t, envs[0])
	if r.ErrorCode != step.CodeCallbackTimeout || !r.Permanent || r.ParkUntil != nil ||
		stepStatuses(r) != "SCRIPT:SUCCEEDED,WAIT_FOR_CALLBACK:FAILED,SCRIPT:SKIPPED" || !strings.Contains(r.Error, "3600000 ms") {
		t.Fatalf("timed-out result %+v", r)
	}
}

// The largest callback body, all of it escapes, becomes the step's
// output whole and reaches the next step.
func TestCallbackLargestBody(t *testing.T) {
	b := setup(t, worker.Config{})
	jobID := uuid.NewString()
	// A string of \u0001 escapes (6 bytes each) filling 64 KiB compact.
	n := (envelope.MaxCallbackBytes - len(`{"s":""}`)) / 6
	body := `{"s":"` + strings.Repeat(`\u0001`, n) + strings.Repeat("a", envelope.MaxCallbackBytes-len(`{"s":""}`)-6*n) + `"}`
	if len(body) != envelope.MaxCallbackBytes {
		t.Fatalf("body of %d bytes", len(body))
	}
	payload := `{"steps":[{"id":"approval","action":"WAIT_FOR_CALLBACK"},
		{"id":"len","action":"SCRIPT","source":"result = len(outputs[\"approval\"][\"s\"])"}]}`
	c := &envelope.CallbackResult{StepIndex: 0, Body: json.RawMessage(body)}
	e := callbackJob(t, jobID, 2, payload, c)
	if got := len(e.Marshal()); got > 2048+512+len(payload)+envelope.CallbackBytes {
		t.Fatalf("run-job of %d bytes: over its allowance", got)
	}
	if err := b.svc.HandleKafka(context.Background(), batch(e)); err != nil {
		t.Fatal(err)
	}
	done, _ := read(t, b.brokers, envelope.TopicJobCompleted, 1)
	if got := stepStatuses(attemptResult(t, done[0])); got != "WAIT_FOR_CALLBACK:SUCCEEDED,SCRIPT:SUCCEEDED" {
		t.Fatalf("steps %s", got)
	}
	ex := executions(t, b, jobID)
	var got string
	if err := json.Unmarshal(ex[0].Steps[0].Output, &struct{ S *string }{&got}); err != nil {
		t.Fatal(err)
	}
	if want := n + envelope.MaxCallbackBytes - len(`{"s":""}`) - 6*n; len(got) != want || string(ex[0].Steps[1].Output) != fmtInt(want) {
		t.Fatalf("output string of %d characters (want %d); len step %s", len(got), want, ex[0].Steps[1].Output)
	}
}

func sameJSON(tb testing.TB, got json.RawMessage, want string) bool {
	tb.Helper()
	var a, b any
	if json.Unmarshal(got, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

func fmtInt(n int) string { b, _ := json.Marshal(n); return string(b) }
