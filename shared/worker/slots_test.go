package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/step"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// classProbe registers SLEEP and COMPUTE kinds that count how many run at
// once. They keep the built-in names, so that step.Classify sees them as
// the real kinds: SLEEP I/O-bound, COMPUTE CPU-bound. Each waits until
// its kind's `until` run together (or a 20 s safety net, which fails the
// step), so the maxima are exact, not a matter of timing.
type classProbe struct {
	mu         sync.Mutex
	cur, peak  map[string]int
	until      map[string]int
	gates      map[string]chan struct{}
	ioAtCPUMax int // the most SLEEPs running while a COMPUTE ran
}

func newClassProbe(ioUntil, cpuUntil int) *classProbe {
	return &classProbe{cur: map[string]int{}, peak: map[string]int{},
		until: map[string]int{"SLEEP": ioUntil, "COMPUTE": cpuUntil},
		gates: map[string]chan struct{}{"SLEEP": make(chan struct{}), "COMPUTE": make(chan struct{})}}
}

func (p *classProbe) registry() *step.Registry {
	r := step.NewRegistry()
	for _, a := range step.Default.Actions() {
		r.Register(a, step.Default.Parse)
	}
	for _, kind := range []string{"SLEEP", "COMPUTE"} {
		r.Register(kind, func(json.RawMessage) (step.Step, error) {
			return testStep{kind, func(ctx context.Context) error { return p.run(ctx, kind) }}, nil
		})
	}
	return r
}

func (p *classProbe) run(ctx context.Context, kind string) error {
	p.mu.Lock()
	p.cur[kind]++
	p.peak[kind] = max(p.peak[kind], p.cur[kind])
	if kind == "COMPUTE" {
		p.ioAtCPUMax = max(p.ioAtCPUMax, p.cur["SLEEP"])
	}
	if p.cur[kind] == p.until[kind] && p.gates[kind] != nil {
		close(p.gates[kind])
		p.gates[kind] = nil // closed once
	}
	gate := p.gates[kind]
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.cur[kind]--
		p.mu.Unlock()
	}()
	if gate == nil {
		return nil
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(20 * time.Second): // a safety net, not an assertion
		return errors.New(kind + ": the expected concurrency was never reached")
	}
}

func (p *classProbe) max(kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak[kind]
}

func jobsOf(t *testing.T, n int, stepJSON string) []envelope.Envelope {
	envs := make([]envelope.Envelope, n)
	for i := range envs {
		envs[i] = runJob(t, 1, stepJSON)
	}
	return envs
}

// CPU-bound attempts never pass WORKER_CONCURRENCY, while 500 I/O-bound
// ones of the same batch sleep at once beside them; CPU-bound attempts
// first in line do not hold back the I/O-bound ones behind them.
func TestCPUBoundStaysWithinItsBoundBeside500SleepingSteps(t *testing.T) {
	const cpu, ioJobs, cpuJobs = 2, 500, 20
	p := newClassProbe(ioJobs, cpu)
	b := setup(t, worker.Config{Concurrency: cpu, IOConcurrency: 1000, Steps: p.registry()})
	envs := append(jobsOf(t, cpuJobs, `{"action":"COMPUTE","iterations":1}`),
		jobsOf(t, ioJobs, `{"action":"SLEEP","durationMs":200}`)...)
	if err := b.svc.HandleKafka(context.Background(), batch(envs...)); err != nil {
		t.Fatal(err)
	}
	if got := p.max("COMPUTE"); got != cpu {
		t.Errorf("at most %d CPU-bound steps ran at once; want exactly %d (WORKER_CONCURRENCY)", got, cpu)
	}
	if got := p.max("SLEEP"); got != ioJobs {
		t.Errorf("at most %d SLEEP steps ran at once; want all %d", got, ioJobs)
	}
	if p.ioAtCPUMax == 0 {
		t.Error("no CPU-bound step ran while SLEEP steps did")
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobCompleted); n != ioJobs+cpuJobs {
		t.Fatalf("%d job-completed records; want %d", n, ioJobs+cpuJobs)
	}
}

// 300 jobs of one 200 ms SLEEP all run at once with the defaults: the
// batch takes one round of sleeps, not 300/16 of them as when every
// attempt took one of WORKER_CONCURRENCY's 16 slots.
func TestIOBoundBatchRunsAtOnce(t *testing.T) {
	const jobs = 300
	p := newClassProbe(jobs, 1)
	b := setup(t, worker.Config{Concurrency: 16, Steps: p.registry()})
	if err := b.svc.HandleKafka(context.Background(), batch(jobsOf(t, jobs, `{"action":"SLEEP","durationMs":200}`)...)); err != nil {
		t.Fatal(err)
	}
	if got := p.max("SLEEP"); got != jobs {
		t.Errorf("at most %d SLEEP steps ran at once; want all %d", got, jobs)
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobCompleted); n != jobs {
		t.Fatalf("%d job-completed records; want %d", n, jobs)
	}
}

// WORKER_IO_CONCURRENCY bounds I/O-bound attempts across the batches one
// process runs at once.
func TestIOConcurrencyIsBoundedAcrossBatches(t *testing.T) {
	const limit, perBatch = 40, 60
	p := newClassProbe(limit, 1)
	b := setup(t, worker.Config{IOConcurrency: limit, Steps: p.registry()})
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		envs := jobsOf(t, perBatch, `{"action":"SLEEP","durationMs":200}`)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- b.svc.HandleKafka(context.Background(), batch(envs...))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := p.max("SLEEP"); got != limit {
		t.Errorf("at most %d SLEEP steps ran at once; want exactly %d (WORKER_IO_CONCURRENCY)", got, limit)
	}
	if n := kafkatest.Count(t, b.brokers, envelope.TopicJobCompleted); n != 2*perBatch {
		t.Fatalf("%d job-completed records; want %d", n, 2*perBatch)
	}
}

// A step that ignores the deadline does not keep its slot past its
// abandoned attempt: the process's next batch still gets it.
func TestAbandonedAttemptGivesBackItsSlot(t *testing.T) {
	b := setup(t, worker.Config{Concurrency: 1, DeadlineMargin: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.svc.HandleKafka(ctx, batch(runJob(t, 1, `{"action":"HANG"}`))); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := b.svc.HandleKafka(ctx2, batch(runJob(t, 1, `{"action":"COUNT","key":"next"}`))); err != nil {
		t.Fatal(err)
	}
	if n := b.probe.count("next"); n != 1 {
		t.Fatalf("the next batch's CPU-bound step ran %d times; want 1 (the hung step kept the only slot)", n)
	}
}
