package faults

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/faulttest"
	"github.com/jobweaver/jobweaver/shared/pgdb"
)

// Postgres backends terminated: every session of the stack's four
// databases is ended with pg_terminate_backend, again and again, while
// jobs flow. Half the time it happens while the broker holds a publish,
// that is between the COMMIT that wrote an outbox row and its publish
// (and the delete of the published row), on each lifecycle topic in turn;
// the other half at any moment.
func TestPostgresBackendsTerminated(t *testing.T) {
	n, kills := faulttest.Pick(400, 3000), faulttest.Pick(6, 30)
	target := faulttest.NewTarget(t)
	b := faulttest.NewBroker(t)
	s := startStack(t, "pgkill", map[string]string{"KAFKA_BROKERS": b.Addr})
	d := faulttest.OpenDBs(t, s.Admin, s.Prefix, []string{b.Addr})
	ctx := context.Background()
	admin, err := pgdb.Open(ctx, s.Admin, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	var dbs []string
	for _, fn := range devstack.Functions {
		dbs = append(dbs, s.Prefix+"_"+fn)
	}
	var ended atomic.Int64
	terminate := func() {
		var n int64
		err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = ANY($1) AND pid <> pg_backend_pid()`, dbs).Scan(&n)
		if err != nil {
			t.Errorf("pg_terminate_backend: %v", err)
		}
		ended.Add(n)
	}

	topics := [][]string{
		{envelope.TopicJobCreated},
		{envelope.TopicRunJob},
		{envelope.TopicJobCompleted, envelope.TopicJobFailed},
		{envelope.TopicJobDeadLetter},
	}
	tol := faulttest.Tolerance{PerJob: map[string]int{}}
	began := time.Now()
	var jobs []faulttest.Job
	held := 0
	waves := (kills + 1) / 2
	for k := 0; k < kills; k++ {
		for _, id := range d.Unfinished(t, jobs) {
			tol.PerJob[id]++
		}
		topic := topics[(k/2)%len(topics)]
		if k%2 == 0 {
			done, cancel := b.DuringProduce(topic, terminate)
			// A wave of jobs, so that the api publishes during faults too
			// (its job-created records are held when topic says so).
			wave := faulttest.Submit(t, s.APIURL, target, fmt.Sprintf("pg%d", k), n/waves, 0)
			for _, j := range wave {
				tol.PerJob[j.ID] = 1
			}
			jobs = append(jobs, wave...)
			select {
			case <-done:
				held++
			case <-time.After(10 * time.Second):
				if cancel() {
					held++
				} else { // nothing published there (a stall shows in Settle): end the sessions anyway
					t.Logf("no publish to %v within 10 s; sessions ended without a held publish", topic)
					terminate()
				}
			}
		} else {
			terminate()
		}
		// Space the faults: let some jobs finish first. Progress is not
		// what this case asserts (Settle and Check are), so after a few
		// seconds without any it goes on.
		goal := min(d.Terminal(t, jobs)+max(1, len(jobs)/(2*kills)), len(jobs))
		for until := time.Now().Add(5 * time.Second); d.Terminal(t, jobs) < goal && time.Now().Before(until); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	faulttest.Logf(t, "%d jobs, %d terminations (%d while a publish was held) ending %d sessions, in %s",
		len(jobs), kills, held, ended.Load(), faulttest.Since(began))
	faulttest.Settle(t, d, []string{b.Addr}, jobs, faulttest.Bound)
	reruns := faulttest.Check(t, d, target, jobs, tol)
	faulttest.Logf(t, "%d step runs (%d reruns of attempts cut off), settled after %s", target.Total(), reruns, faulttest.Since(began))
}
