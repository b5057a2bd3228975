package scheduler

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

func TestHandleRoutesByTrigger(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{})

	// Kafka, as Lambda delivers it.
	kev, err := json.Marshal(kafkaEvent(created))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := b.svc.Handle(b.ctx, kev); err != nil || out != nil {
		t.Fatalf("Kafka: %v, %v", out, err)
	}
	b.read(t, envelope.TopicRunJob, 1)

	// An internal HTTP call.
	raw, err := os.ReadFile("testdata/status-request.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.svc.Handle(b.ctx, []byte(strings.ReplaceAll(string(raw), "JOB_ID", created.JobID)))
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := out.(events.APIGatewayV2HTTPResponse)
	if !ok || resp.StatusCode != http.StatusOK || resp.Headers["X-Trace-Id"] != "trace-apigw" {
		t.Fatalf("HTTP: %#v", out)
	}
	var st internalapi.JobStatus
	if err := json.Unmarshal([]byte(resp.Body), &st); err != nil || st.JobID != created.JobID || st.Status != internalapi.StatusRunning {
		t.Fatalf("HTTP body %s: %v", resp.Body, err)
	}

	// A schedule: without a deadline, one pass. The job has no retries, so
	// the rescue dead-letters it.
	sched, err := os.ReadFile("testdata/schedule-event.json")
	if err != nil {
		t.Fatal(err)
	}
	b.expire(t, created.JobID)
	out, err = b.svc.Handle(b.ctx, sched)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := out.(TickResult); !ok || r.Passes != 1 || r.Rescued != 1 || r.Dispatched != 0 || r.Published != 1 {
		t.Fatalf("tick = %#v", out)
	}
	b.read(t, envelope.TopicJobDeadLetter, 1)

	if _, err := b.svc.Handle(b.ctx, []byte(`{"hello":"world"}`)); err == nil {
		t.Fatal("unknown payload accepted")
	}
	if _, err := b.svc.Handle(b.ctx, []byte(`[1]`)); err == nil {
		t.Fatal("non-object payload accepted")
	}
}

func TestTickLoopsUntilTheMarginBeforeItsDeadline(t *testing.T) {
	b := setup(t, func(c *Config) { c.TickMargin, c.IdlePoll = time.Second, 20*time.Millisecond })
	created := newJobCreated(t, jobOpts{})
	b.consume(t, b.service(t, paused), created)

	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	r, err := b.svc.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Passes < 2 || r.Dispatched != 1 || r.Published != 1 || r.Failed != 0 {
		t.Fatalf("tick = %+v", r)
	}
	b.read(t, envelope.TopicRunJob, 1)
}

func TestTickRunsOncePastItsMargin(t *testing.T) {
	// The deadline is already inside the margin, as when a local 1 s
	// schedule meets the default 2 s margin.
	b := setup(t, func(c *Config) { c.TickMargin = time.Minute })
	b.consume(t, b.service(t, paused), newJobCreated(t, jobOpts{}))
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	r, err := b.svc.Tick(ctx)
	if err != nil || r.Passes != 1 || r.Dispatched != 1 {
		t.Fatalf("tick = %+v, %v", r, err)
	}
}
