package faults

import (
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/faulttest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// SIGKILL of the stack mid-batch: the stack runs in a child process and
// is killed with SIGKILL while workers hold batches of run-job records,
// again and again, then restarted on the same broker log and databases.
// Whatever was in flight is delivered again; nothing is lost, doubled or
// stuck.
func TestSIGKILLMidBatch(t *testing.T) {
	n, kills := faulttest.Pick(1000, 5000), faulttest.Pick(3, 20)
	target := faulttest.NewTarget(t)
	c := faulttest.NewChild(t, "kill", vars(map[string]string{"ESM_BATCH_SIZE": "50", "ESM_RUN_JOB_BATCH_SIZE": "50"}))
	c.Start(t)
	began := time.Now()
	jobs := faulttest.Submit(t, c.APIURL, target, "kill", n, 0)

	// Kill k happens once (k+1)/(kills+1) of the jobs are terminal, while
	// jobs still run. A job may rerun an attempt once per kill it lived
	// through; one that had finished never runs again.
	tol := faulttest.Tolerance{PerJob: map[string]int{}}
	for _, j := range jobs {
		tol.PerJob[j.ID] = 0
	}
	midBatch := 0
	for k := 0; k < kills; k++ {
		goal := (k + 1) * n / (kills + 1)
		testwait.Eventually(t, faulttest.Bound, "jobs finish between kills", func() bool {
			return c.DBs.Terminal(t, jobs) >= goal
		})
		// Mid-batch: kill while jobs run, unless for a moment all that is
		// left waits for its retry.
		running := 0
		for until := time.Now().Add(2 * time.Second); running == 0 && time.Now().Before(until); {
			running = c.DBs.Int(t, "scheduler", `SELECT count(*) FROM jobs WHERE status = 'RUNNING'`)
		}
		if running > 0 {
			midBatch++
		}
		for _, id := range c.DBs.Unfinished(t, jobs) {
			tol.PerJob[id]++
		}
		c.Kill()
		c.Start(t)
	}
	faulttest.Settle(t, c.DBs, c.Brokers, jobs, faulttest.Bound)
	reruns := faulttest.Check(t, c.DBs, target, jobs, tol)
	if midBatch == 0 {
		t.Errorf("no kill found a job running: the case proves nothing")
	}
	faulttest.Logf(t, "%d jobs, %d SIGKILLs (%d with jobs running), %d attempts cut off and run again, %d step runs in all, %s",
		n, kills, midBatch, reruns, target.Total(), faulttest.Since(began))
}
