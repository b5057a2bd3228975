package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jobweaver/jobweaver/shared/api"
	"github.com/jobweaver/jobweaver/shared/flow"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// getSystem reads GET /api/system, which must answer 200.
func getSystem(t *testing.T, apiURL string) (api.System, string) {
	t.Helper()
	resp, err := http.Get(apiURL + "/api/system")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sys api.System
	if err := json.Unmarshal(b, &sys); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/system = %d %s", resp.StatusCode, b)
	}
	return sys, string(b)
}

// TestSystemOnTheLocalStack: on a stack that ran a job, GET /api/system
// shows every function UP, the job's completed attempt in the throughput,
// each mapping's lag (read from the embedded broker with kadm) back to 0,
// four outboxes and nothing due or open. With the worker stopped, the
// route still answers: the worker DOWN, its outbox missing and named in
// errors.
func TestSystemOnTheLocalStack(t *testing.T) {
	s := start(t, testConfig(t))
	waitStatus(t, s.APIURL, submit(t, s.APIURL), "COMPLETED")

	var sys api.System
	var body string
	testwait.EventuallyState(t, bound, "the system view shows the job done and nothing behind", func() bool {
		sys, body = getSystem(t, s.APIURL)
		if len(sys.Errors) != 0 || sys.Throughput == nil || sys.Due == nil || sys.Running == nil || sys.DLQ == nil ||
			len(sys.Lag) != len(flow.Routes) || len(sys.Outbox) != 4 {
			return false
		}
		var completed, behind int64
		for _, p := range sys.Throughput.Points {
			completed += p.Completed
		}
		for _, l := range sys.Lag {
			behind += l.Lag
		}
		return completed == 1 && behind == 0 && sys.Due.Count == 0 && sys.Running.Count == 0
	}, func() string { return body })
	if sys.Source != api.SourceLocal || len(sys.Throughput.Points) != 60 || sys.DLQ.Open != 0 {
		t.Errorf("source %q, %d points, %d open dead letters", sys.Source, len(sys.Throughput.Points), sys.DLQ.Open)
	}
	for i, f := range sys.Functions {
		if f.Name != Functions[i] || f.Status != "UP" {
			t.Errorf("functions[%d] = %+v, want %s UP", i, f, Functions[i])
		}
	}
	for i, r := range flow.Routes {
		if l := sys.Lag[i]; l.Topic != r.Topic || l.Consumer != r.Consumer || l.Group != r.Group(GroupPrefix) {
			t.Errorf("lag[%d] = %+v, want the %s mapping's group %s", i, l, r.Topic, r.Group(GroupPrefix))
		}
	}

	// Stop the worker: every invocation of it fails.
	s.Invoker.Register(invoke.Worker, lambda.NewHandler(func(context.Context, json.RawMessage) (any, error) {
		return nil, errors.New("the worker is stopped")
	}))
	sys, body = getSystem(t, s.APIURL)
	if sys.Functions[2].Name != invoke.Worker || sys.Functions[2].Status != "DOWN" || sys.Functions[2].Error == "" {
		t.Errorf("the stopped worker is %+v", sys.Functions[2])
	}
	if len(sys.Outbox) != 3 || sys.Errors["outbox"] == "" || len(sys.Errors) != 1 {
		t.Errorf("with the worker stopped: outbox %+v, errors %v; want three services and the worker named", sys.Outbox, sys.Errors)
	}
	if sys.Throughput == nil || sys.Lag == nil || sys.DLQ == nil {
		t.Errorf("the other parts went missing: %s", body)
	}
}
