package faults

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/faulttest"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// Concurrent ticks: while jobs flow, rounds of ticks invoke the scheduler
// all at once (20 at full scale, beside the schedule's own), as
// EventBridge and a slow invocation can overlap in AWS. No job is
// dispatched twice for one attempt, and none is left behind. make
// test-faults runs this case under -race too.
func TestConcurrentTicks(t *testing.T) {
	n, width := faulttest.Pick(300, 2000), faulttest.Pick(8, 20)
	target := faulttest.NewTarget(t)
	s := startStack(t, "ticks", nil)
	d := faulttest.OpenDBs(t, s.Admin, s.Prefix, s.Brokers)
	began := time.Now()
	jobs := faulttest.Submit(t, s.APIURL, target, "ticks", n, 0)

	ticker := &devstack.Ticker{Invoker: s.Invoker, Function: invoke.Scheduler, Timeout: 2 * time.Second}
	var rounds, ticks, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var round sync.WaitGroup
			start := make(chan struct{})
			for range width {
				round.Add(1)
				go func() {
					defer round.Done()
					<-start // all at once
					if err := ticker.Once(context.Background(), time.Now()); err != nil {
						failed.Add(1)
					}
					ticks.Add(1)
				}()
			}
			close(start)
			round.Wait()
			rounds.Add(1)
		}
	}()
	testwait.Eventually(t, faulttest.Bound, "every job finishes", func() bool { return d.Terminal(t, jobs) == len(jobs) })
	close(stop)
	wg.Wait()
	faulttest.Settle(t, d, s.Brokers, jobs, faulttest.Bound)
	reruns := faulttest.Check(t, d, target, jobs, faulttest.Tolerance{})

	// One run-job event per job and attempt: no attempt dispatched twice.
	runJobs := 0
	for _, j := range jobs {
		runJobs += j.Kind.Attempts
	}
	recs := faulttest.ReadTopic(t, s.Brokers, envelope.TopicRunJob)
	events := map[[2]string]map[string]bool{}
	for _, r := range recs {
		var e struct {
			EventID string `json:"eventId"`
			JobID   string `json:"jobId"`
			Payload struct {
				Attempt json.Number `json:"attempt"`
			} `json:"payload"`
		}
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatalf("run-job record: %v", err)
		}
		k := [2]string{e.JobID, e.Payload.Attempt.String()}
		if events[k] == nil {
			events[k] = map[string]bool{}
		}
		events[k][e.EventID] = true
	}
	twice := 0
	for k, ids := range events {
		if len(ids) > 1 {
			twice++
			if twice <= 5 {
				t.Errorf("job %s attempt %s dispatched %d times", k[0], k[1], len(ids))
			}
		}
	}
	if len(events) != runJobs {
		t.Errorf("%d dispatched attempts in run-job, want %d", len(events), runJobs)
	}
	faulttest.Logf(t, "%d jobs, %d rounds of %d concurrent ticks (%d ticks, %d failed), %d attempts dispatched once each, %d reruns, %s",
		n, rounds.Load(), width, ticks.Load(), failed.Load(), len(events), reruns, faulttest.Since(began))
}
