package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
)

// reporter stores and publishes each attempt's result as soon as the
// attempt ends, never held behind a slower neighbour of its batch. One
// goroutine commits whatever results are waiting in one transaction (an
// executions row each, plus its result event in the outbox); another
// publishes what the commits wrote, by their outbox rows' IDs
// (Relay.Publish), with no claim and no scan of the outbox. Results that
// end during a commit go together in the next one, and commits go on
// while a publish runs, so the groups grow with the load and nothing waits
// for its neighbours.
//
// Rows a publish could not send, and rows an earlier delivery of the batch
// committed but never sent (a crash, a failed invocation), go out with a
// full drain of the outbox at the end of the invocation; see finish.
type reporter struct {
	s       *Service
	ctx     context.Context
	in      chan report
	running atomic.Int32  // attempts started and not yet added
	kick    chan struct{} // a commit went in: publish (buffered 1)
	done    chan struct{}
	poison  []envelope.Envelope // written with the first commit

	mu      sync.Mutex
	pending []*committed // committed, not yet handed to Publish

	// redelivered: some of the batch finished in an earlier delivery,
	// whose result events may still wait in the outbox.
	redelivered bool

	// Read after done is closed.
	storeErr   error // the commits that failed
	publishErr error // the first publish that failed
	drainErr   error // the final drain's error
}

type report struct {
	t *task
	o outcome
}

// newReporter starts the reporter for a batch of n tasks; the poison
// records' dead letters go out with its first commit. redelivered says
// that some of the batch finished in an earlier delivery.
func (s *Service) newReporter(ctx context.Context, n int, poison []envelope.Envelope, redelivered bool) *reporter {
	r := &reporter{s: s, ctx: ctx, in: make(chan report, n), kick: make(chan struct{}, 1),
		done: make(chan struct{}), poison: poison, redelivered: redelivered}
	published := make(chan struct{})
	go func() {
		defer close(published)
		for range r.kick {
			r.publish()
		}
	}()
	go func() {
		defer close(r.done)
		r.loop()
		r.signal() // a last publish after the last commit
		close(r.kick)
		<-published
		r.finish()
	}()
	return r
}

// publish sends what the commits so far wrote to the outbox, in one
// Publish.
func (r *reporter) publish() {
	r.mu.Lock()
	cs := r.pending
	r.pending = nil
	r.mu.Unlock()
	var (
		ids  []int64
		envs []envelope.Envelope
	)
	for _, c := range cs {
		ids, envs = append(ids, c.ids...), append(envs, c.envs...)
	}
	if err := r.s.relay.Publish(r.ctx, ids, envs...); err != nil && r.publishErr == nil {
		r.publishErr = err
	}
}

// finish drains the whole outbox when this invocation owes it: a publish
// failed (its rows stayed), or the batch is a redelivery (an earlier
// delivery may have committed results it never sent). Otherwise it sweeps
// rows older than sweepAge, at most once per sweepEvery per process, for
// whatever a crashed process left; a failed sweep is only logged.
func (r *reporter) finish() {
	if r.publishErr != nil || r.redelivered {
		if _, err := r.s.relay.Drain(r.ctx); err != nil {
			r.drainErr = err
			if r.publishErr != nil {
				r.drainErr = fmt.Errorf("%w (after: %w)", err, r.publishErr)
			}
		}
		return
	}
	now := time.Now().UnixNano()
	last := r.s.lastSweep.Load()
	if now-last < int64(sweepEvery) || !r.s.lastSweep.CompareAndSwap(last, now) {
		return
	}
	if n, err := r.s.relay.DrainOlder(r.ctx, sweepAge); err != nil {
		r.s.log.WarnContext(r.ctx, "outbox sweep failed; the rows stay for the next sweep", "published", n, "error", err.Error())
	} else if n > 0 {
		r.s.log.InfoContext(r.ctx, "outbox sweep published left-over result events", "published", n)
	}
}

// The sweep for rows a crashed or failed process left: at most every
// sweepEvery per process, rows at least sweepAge old (younger ones may be
// in a Publish of a concurrent invocation right now).
const (
	sweepEvery = time.Second
	sweepAge   = 2 * time.Second
)

// started counts an attempt that will be added.
func (r *reporter) started() { r.running.Add(1) }

// add hands over an attempt's outcome. Each task is added at most once,
// so it never blocks.
func (r *reporter) add(t *task, o outcome) {
	r.in <- report{t, o}
	r.running.Add(-1)
}

// linger is how long a result waits for those of attempts still running,
// to share their commit: short enough that no result waits for a slow
// neighbour, long enough that attempts ending together (fast steps, a
// group started together) go in one transaction and one publish.
const linger = 2 * time.Millisecond

// close waits until everything added is stored and drained, and returns
// what failed.
func (r *reporter) close() error {
	close(r.in)
	<-r.done
	if r.storeErr != nil {
		return r.storeErr
	}
	if r.drainErr != nil {
		return fmt.Errorf("worker: results are stored but not yet published: %w", r.drainErr)
	}
	return nil
}

// signal asks for a drain; one already asked for covers this one.
func (r *reporter) signal() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *reporter) loop() {
	timer := time.NewTimer(linger)
	defer timer.Stop()
	for first := range r.in {
		batch := []report{first}
		timer.Reset(linger)
	more:
		for {
			// Take what is waiting; then wait for attempts still running,
			// up to linger.
			select {
			case x, ok := <-r.in:
				if !ok {
					break more
				}
				batch = append(batch, x)
				continue
			default:
			}
			if r.running.Load() <= 0 {
				break
			}
			select {
			case x, ok := <-r.in:
				if !ok {
					break more
				}
				batch = append(batch, x)
			case <-timer.C:
				break more
			}
		}
		r.commit(batch)
	}
	if len(r.poison) > 0 {
		r.commit(nil)
	}
}

// commit stores batch (and the poison dead letters, until they are
// stored) and asks for a drain.
func (r *reporter) commit(batch []report) {
	tasks := make([]*task, len(batch))
	outs := make([]outcome, len(batch))
	for i, b := range batch {
		tasks[i], outs[i] = b.t, b.o
	}
	c, err := r.s.record(r.ctx, tasks, outs, r.poison)
	if err != nil {
		r.storeErr = errors.Join(r.storeErr, err)
		return
	}
	r.s.countAttempts(tasks, outs, len(r.poison))
	r.poison = nil
	if c != nil && len(c.envs) > 0 {
		r.mu.Lock()
		r.pending = append(r.pending, c)
		r.mu.Unlock()
		r.signal()
	}
}
