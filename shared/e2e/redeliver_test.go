package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/stacktest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// snapshot is every piece of state the platform keeps, as text.
func (s *stack) snapshot(t *testing.T) map[string]int {
	t.Helper()
	// A published row's delete is grouped and runs up to 50 ms later
	// (outbox.Relay.Publish), so the outboxes may still hold rows the
	// consumers have already read: wait until they are empty, as they
	// must become.
	testwait.Eventually(t, stacktest.Bound, "every outbox to be empty", func() bool {
		return s.Count(t, "api", `SELECT count(*) FROM outbox`)+s.Count(t, "scheduler", `SELECT count(*) FROM outbox`)+
			s.Count(t, "worker", `SELECT count(*) FROM outbox`) == 0
	})
	q := map[string][2]string{
		"api jobs":           {"api", `SELECT count(*) FROM jobs`},
		"scheduler jobs":     {"scheduler", `SELECT count(*) FROM jobs`},
		"scheduler versions": {"scheduler", `SELECT coalesce(sum(version), 0) FROM jobs`},
		"scheduler attempts": {"scheduler", `SELECT coalesce(sum(attempts), 0) FROM jobs`},
		"attempt rows":       {"scheduler", `SELECT count(*) FROM job_attempts`},
		"completed":          {"scheduler", `SELECT count(*) FROM jobs WHERE status = 'COMPLETED'`},
		"failed":             {"scheduler", `SELECT count(*) FROM jobs WHERE status = 'FAILED'`},
		"executions":         {"worker", `SELECT count(*) FROM executions`},
		"dead letters":       {"dlq", `SELECT count(*) FROM dead_letters`},
		"api outbox":         {"api", `SELECT count(*) FROM outbox`},
		"scheduler outbox":   {"scheduler", `SELECT count(*) FROM outbox`},
		"worker outbox":      {"worker", `SELECT count(*) FROM outbox`},
	}
	out := map[string]int{}
	for name, sq := range q {
		out[name] = s.Count(t, sq[0], sq[1])
	}
	return out
}

// lagZero waits until every consumer group has consumed everything.
func (s *stack) lagZero(t *testing.T) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	testwait.Eventually(t, stacktest.Bound, "consumer lag reaches zero", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		groups, err := adm.ListGroups(ctx)
		if err != nil || len(groups) < 5 {
			return false
		}
		lags, err := adm.Lag(ctx, groups.Groups()...)
		if err != nil {
			return false
		}
		for _, l := range lags {
			if l.Error() != nil || l.Lag.Total() != 0 {
				return false
			}
		}
		return true
	})
}

func TestEveryEventDeliveredTwiceChangesNothing(t *testing.T) {
	var hits atomic.Int32 // one per run of a job's HTTP_CALL (step 0)
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer target.Close()
	call := `{"action":"HTTP_CALL","url":"` + target.URL + `"},`
	s := startStack(t, nil)
	ok := s.Submit(t, stacktest.JobJSON(call+`{"action":"LOG","message":"fine"}`, 1))
	flaky := s.Submit(t, stacktest.JobJSON(call+`{"action":"FAIL","message":"once","failTimes":1}`, 2))
	dead := s.Submit(t, stacktest.JobJSON(call+`{"action":"FAIL","message":"always"}`, 1))
	s.WaitStatus(t, ok, "COMPLETED")
	s.WaitStatus(t, flaky, "COMPLETED")
	s.WaitStatus(t, dead, "FAILED")
	testwait.Eventually(t, stacktest.Bound, "the dead letter is stored", func() bool {
		return s.Count(t, "dlq", `SELECT count(*) FROM dead_letters`) == 1
	})
	s.lagZero(t)
	before := s.snapshot(t)
	// Durable resume: the HTTP_CALL is checkpointed when it ends, and a
	// retry resumes after it. So it runs once per job, not per attempt.
	if hits.Load() != 3 {
		t.Fatalf("the HTTP_CALL ran %d times before redelivery, want 3 (once per job; 5 attempts)", hits.Load())
	}

	// Produce every record of every topic again, as a redelivery would.
	counts := map[string]int{}
	events := map[string]map[string]bool{} // distinct event IDs per topic
	prod := kafkatest.Producer(t, s.Brokers)
	for _, topic := range kafka.TopicNames() {
		recs := kafkatest.ReadTopic(t, s.Brokers, topic, 10*time.Second)
		counts[topic] = len(recs)
		events[topic] = map[string]bool{}
		for _, r := range recs {
			events[topic][recordHeader(r, "eventId")] = true
		}
		for _, r := range recs {
			dup := &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers, Partition: r.Partition}
			if err := prod.ProduceSync(context.Background(), dup).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Delivery is at least once: a relay whose commit failed after its
	// publish sends a row again. So count events, not records.
	if len(events["job-created"]) != 3 || len(events["run-job"]) != 5 || len(events["job-dead-letter"]) != 1 {
		t.Fatalf("events per topic before redelivery: job-created %d, run-job %d, job-dead-letter %d (records %v); want 3, 5, 1",
			len(events["job-created"]), len(events["run-job"]), len(events["job-dead-letter"]), counts)
	}
	s.lagZero(t)
	// Every redelivered record is consumed. Run a tick pass too: whatever
	// the redelivery had made due again, it dispatches now; then compare.
	// 3 s: the pass waits its turn for the dispatch lock behind the
	// stack's own 50 ms ticks, which on a busy machine took over 200 ms.
	tick := &devstack.Ticker{Invoker: s.Invoker, Function: invoke.Scheduler, Timeout: 3 * time.Second}
	if err := tick.Once(context.Background(), time.Now()); err != nil {
		t.Fatalf("tick: %v", err)
	}
	s.lagZero(t)
	after := s.snapshot(t)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: %d before redelivery, %d after", k, v, after[k])
		}
	}
	for _, topic := range kafka.TopicNames() {
		if n := len(kafkatest.ReadTopic(t, s.Brokers, topic, 10*time.Second)); n != 2*counts[topic] {
			t.Errorf("%s holds %d records after redelivery, want exactly the %d duplicates added (%d)", topic, n, counts[topic], 2*counts[topic])
		}
	}
	if hits.Load() != 3 {
		t.Errorf("steps ran %d times after redelivery, want still 3: a redelivered run-job ran its steps again", hits.Load())
	}
	r := s.Do(t, http.MethodGet, "/api/jobs/"+flaky, "").JSON(t)
	if r["attempts"] != float64(2) || r["status"] != "COMPLETED" {
		t.Errorf("flaky job after redelivery = %v", r)
	}
}

var _ = fmt.Sprint

func recordHeader(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
