package flow

import (
	"slices"
	"sort"
	"testing"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafka"
)

// The table covers every lifecycle topic once, in the order the topics
// are created (shared/kafka.Topics), with envelope's event types.
func TestRoutesCoverTheLifecycleTopicsInOrder(t *testing.T) {
	if got, want := Topics(), kafka.TopicNames(); !slices.Equal(got, want) {
		t.Errorf("flow topics %v; shared/kafka creates %v (same topics, same order)", got, want)
	}
	var events []string
	for _, topic := range envelope.TopicOf {
		events = append(events, topic)
	}
	got := Topics()
	sort.Strings(events)
	sort.Strings(got)
	if !slices.Equal(got, events) {
		t.Errorf("flow topics %v; envelope's event types go to %v", got, events)
	}
}

// The table's function names are the ones shared/invoke calls.
func TestFunctionNamesAreInvokes(t *testing.T) {
	for _, c := range []struct{ flow, invoke string }{
		{API, invoke.API}, {Scheduler, invoke.Scheduler}, {Worker, invoke.Worker}, {DLQ, invoke.DLQ},
	} {
		if c.flow != c.invoke {
			t.Errorf("flow names %q, invoke %q", c.flow, c.invoke)
		}
	}
}

func TestEveryRouteIsWhole(t *testing.T) {
	functions := []string{API, Scheduler, Worker, DLQ}
	for _, r := range Routes {
		if !slices.Contains(functions, r.Consumer) || r.Consumer == API {
			t.Errorf("%s: consumer %q is not a function behind a mapping", r.Topic, r.Consumer)
		}
		if len(r.Producers) == 0 {
			t.Errorf("%s: no producer", r.Topic)
		}
		for _, p := range r.Producers {
			if !slices.Contains(functions, p) || p == r.Consumer {
				t.Errorf("%s: producer %q is unknown or its own consumer", r.Topic, p)
			}
		}
		if r.BatchSize < 1 || r.BatchSize > 10000 || r.BatchWindowSeconds < 0 || r.BatchWindowSeconds > 300 {
			t.Errorf("%s: batch %d, window %ds out of Lambda's ranges", r.Topic, r.BatchSize, r.BatchWindowSeconds)
		}
		if r.Does == "" {
			t.Errorf("%s: says nothing of what its consumer does", r.Topic)
		}
	}
}

func TestDerivedLists(t *testing.T) {
	all := []string{envelope.TopicJobCreated, envelope.TopicRunJob, envelope.TopicJobCompleted, envelope.TopicJobFailed, envelope.TopicJobDeadLetter}
	for _, c := range []struct {
		fn                 string
		produces, consumes []string
	}{
		{API, []string{envelope.TopicJobCreated}, nil},
		{Scheduler, []string{envelope.TopicRunJob, envelope.TopicJobDeadLetter},
			[]string{envelope.TopicJobCreated, envelope.TopicJobCompleted, envelope.TopicJobFailed}},
		{Worker, []string{envelope.TopicJobCompleted, envelope.TopicJobFailed, envelope.TopicJobDeadLetter},
			[]string{envelope.TopicRunJob}},
		{DLQ, all, []string{envelope.TopicJobDeadLetter}}, // the Redriver produces any topic
		{"migrate", nil, nil},
	} {
		if got := Produces(c.fn); !slices.Equal(got, c.produces) {
			t.Errorf("Produces(%s) = %v, want %v", c.fn, got, c.produces)
		}
		if got := Consumes(c.fn); !slices.Equal(got, c.consumes) {
			t.Errorf("Consumes(%s) = %v, want %v", c.fn, got, c.consumes)
		}
	}
	r, ok := ByTopic(envelope.TopicRunJob)
	if !ok || r.Group("jobweaver-dev-") != "jobweaver-dev-worker-run-job" {
		t.Errorf("run-job: %v %+v, group %s", ok, r, r.Group("jobweaver-dev-"))
	}
	if _, ok := ByTopic("nope"); ok {
		t.Error("ByTopic found a topic that is not in the table")
	}
}
