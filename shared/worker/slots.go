package worker

import (
	"sync"

	"github.com/jobweaver/jobweaver/shared/step"
)

// slots bounds the attempts a worker process runs at once, by class
// (step.ClassOf the attempt's steps): CPU-bound attempts (a SCRIPT or
// COMPUTE step among them) at most Config.Concurrency, near the core
// count; I/O-bound ones (only SLEEP, HTTP_CALL, WEBHOOK, LOG, FAIL) at
// most Config.IOConcurrency, in the hundreds to thousands. The bounds are
// the process's, shared by every batch it runs at once (the local stack's
// pollers invoke one Service concurrently; in AWS an execution environment
// runs one invocation at a time).
//
// An attempt holds its slot from its start call until it ends (or is
// abandoned for ignoring the deadline: runBatch then gives its slot back,
// so that a hung step cannot keep it past the invocation), whatever step
// it is in: an attempt with a SCRIPT step holds a CPU slot while its
// SLEEP steps wait too.
type slots struct {
	mu      sync.Mutex
	limit   [2]int
	used    [2]int
	peak    [2]int        // the most held at once, for tests
	changed chan struct{} // closed, and replaced, when a slot is freed
}

func newSlots(cpu, io int) *slots {
	p := &slots{changed: make(chan struct{})}
	p.limit[step.CPU], p.limit[step.IO] = cpu, io
	return p
}

// tryAcquire takes a slot of class c if one is free.
func (p *slots) tryAcquire(c step.Class) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used[c] >= p.limit[c] {
		return false
	}
	p.used[c]++
	p.peak[c] = max(p.peak[c], p.used[c])
	return true
}

// release frees a slot of class c, waking whoever waits on freed.
func (p *slots) release(c step.Class) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.used[c]--
	close(p.changed)
	p.changed = make(chan struct{})
}

// freed returns a channel closed at the next release. Take it before
// trying to acquire, so that a release in between is not missed.
func (p *slots) freed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// inUse and maxInUse report the slots of class c held now and at most
// so far.
func (p *slots) inUse(c step.Class) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used[c]
}

func (p *slots) maxInUse(c step.Class) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak[c]
}

// take picks, in order, the waiting tasks (pending, indexes into classes,
// the tasks' classes) that get a slot now, taking their slots: a task
// whose class is full does not hold back those of the other class behind
// it. It stops looking once no slot of either class is left. It returns
// the picked and the still pending, both in their order.
func (p *slots) take(classes []step.Class, pending []int) (picked, rest []int) {
	full := [2]bool{}
	for k, i := range pending {
		if full[step.CPU] && full[step.IO] {
			return picked, append(rest, pending[k:]...)
		}
		c := classes[i]
		if !full[c] && p.tryAcquire(c) {
			picked = append(picked, i)
			continue
		}
		full[c] = true
		rest = append(rest, i)
	}
	return picked, rest
}
