package faults

import (
	"fmt"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/faulttest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// Broker restart: the stack's broker goes down and comes back on the same
// log, again and again, while jobs flow. Publishes and offset commits
// fail meanwhile; the outboxes keep what was not sent and the mappings
// deliver again what was not committed.
func TestBrokerRestart(t *testing.T) {
	n, restarts := faulttest.Pick(300, 2000), faulttest.Pick(2, 10)
	target := faulttest.NewTarget(t)
	b := faulttest.NewBroker(t)
	s := startStack(t, "broker", map[string]string{"KAFKA_BROKERS": b.Addr})
	d := faulttest.OpenDBs(t, s.Admin, s.Prefix, []string{b.Addr})
	began := time.Now()
	var jobs []faulttest.Job
	for k := 0; k < restarts; k++ {
		// A wave of jobs each time, so that submissions too meet the outage.
		jobs = append(jobs, faulttest.Submit(t, s.APIURL, target, fmt.Sprintf("broker%d", k), n/restarts, 0)...)
		goal := len(jobs) / 2
		testwait.Eventually(t, faulttest.Bound, "half the jobs finish", func() bool { return d.Terminal(t, jobs) >= goal })
		b.Restart(t, 300*time.Millisecond)
	}
	faulttest.Settle(t, d, []string{b.Addr}, jobs, faulttest.Bound)
	// A broker outage cuts off no attempt: a worker that cannot publish
	// keeps its result in the outbox, so no step runs again.
	reruns := faulttest.Check(t, d, target, jobs, faulttest.Tolerance{})
	faulttest.Logf(t, "%d jobs, %d broker restarts, %d step runs in all (%d reruns), %s", len(jobs), restarts, target.Total(), reruns, faulttest.Since(began))
}
