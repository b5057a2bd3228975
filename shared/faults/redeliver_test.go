package faults

import (
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/faulttest"
	"github.com/jobweaver/jobweaver/shared/kafka"
)

// Every topic's records delivered 3×, out of order: while jobs flow,
// every record of every lifecycle topic is produced three more times,
// shuffled, to its partition (as a relay that publishes a row again, or
// a batch retried after a partial success, would). Every consumer is
// idempotent on the event ID: nothing changes.
func TestEveryRecordDeliveredThreeTimesOutOfOrder(t *testing.T) {
	n := faulttest.Pick(150, 1500)
	target := faulttest.NewTarget(t)
	s := startStack(t, "redeliver", nil)
	d := faulttest.OpenDBs(t, s.Admin, s.Prefix, s.Brokers)
	began := time.Now()
	r := faulttest.Redeliver(t, s.Brokers, 3, 1)
	jobs := faulttest.Submit(t, s.APIURL, target, "redeliver", n, 0)
	faulttest.Settle(t, d, s.Brokers, jobs, faulttest.Bound)
	r.Stop(t, s.Brokers)
	faulttest.Settle(t, d, s.Brokers, jobs, faulttest.Bound)
	reruns := faulttest.Check(t, d, target, jobs, faulttest.Tolerance{})

	perTopic := map[string]int{}
	for _, topic := range kafka.TopicNames() {
		for _, rec := range faulttest.ReadTopic(t, s.Brokers, topic) {
			if faulttest.Header(rec, "faulttest-copy") == "" {
				perTopic[topic]++
			}
		}
	}
	for _, topic := range kafka.TopicNames() {
		if perTopic[topic] == 0 {
			t.Errorf("%s: no record to deliver again; the case does not cover it", topic)
		}
	}
	faulttest.Logf(t, "%d jobs; records per topic %v, each delivered 3 more times out of order (%d copies); %d reruns; %s",
		n, perTopic, r.Produced.Load(), reruns, faulttest.Since(began))
}
