package flow

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafka"
)

// The table covers every lifecycle topic once, in the order the topics
// are created (shared/kafka.Topics), with envelope's event types.
func TestRoutesCoverTheLifecycleTopicsInOrder(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	for _, c := range []struct{ flow, invoke string }{
		{API, invoke.API}, {Scheduler, invoke.Scheduler}, {Worker, invoke.Worker}, {DLQ, invoke.DLQ},
	} {
		if c.flow != c.invoke {
			t.Errorf("flow names %q, invoke %q", c.flow, c.invoke)
		}
	}
}

func TestEveryRouteIsWhole(t *testing.T) {
	t.Parallel()
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
	}
}

func TestDerivedLists(t *testing.T) {
	t.Parallel()
	all := []string{envelope.TopicJobCreated, envelope.TopicRunJob, envelope.TopicJobCompleted, envelope.TopicJobFailed, envelope.TopicJobDeadLetter}
	for _, c := range []struct {
		fn                 string
		produces, consumes []string
	}{
		{API, []string{envelope.TopicJobCreated, envelope.TopicJobDeadLetter}, nil},
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

// docs/architecture.md's "Follow one job" table has a row per route, in
// order, with the table's producers and consumer.
func TestArchitectureDocShowsTheRoutes(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "## Follow one job\n")
	if !ok {
		t.Fatal(`docs/architecture.md has no "## Follow one job" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows [][]string
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 6 {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if _, ok := ByTopic(strings.Trim(cells[2], "`")); ok && strings.HasPrefix(cells[2], "`") {
			rows = append(rows, cells[2:5])
		}
	}
	if len(rows) != len(Routes) {
		t.Fatalf("%d rows for lifecycle topics; the flow table has %d routes", len(rows), len(Routes))
	}
	for i, r := range Routes {
		want := []string{"`" + r.Topic + "`", strings.Join(r.Producers, ", "), r.Consumer}
		if !slices.Equal(rows[i], want) {
			t.Errorf("row %d: %q; the flow table says %q", i, rows[i], want)
		}
	}
}
