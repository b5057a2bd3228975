package worker

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
)

// reporter stores and publishes each attempt's result as soon as the
// attempt ends, never held behind a slower neighbour of its batch. One
// goroutine commits whatever results are waiting in one transaction (an
// executions row each, plus its result event in the outbox); another
// drains the outbox after each commit. Results that end during a commit
// go together in the next one, and commits go on while a drain publishes,
// so the groups grow with the load and nothing waits for its neighbours.
type reporter struct {
	s       *Service
	ctx     context.Context
	in      chan report
	running atomic.Int32  // attempts started and not yet added
	kick    chan struct{} // a commit went in: drain (buffered 1)
	done    chan struct{}
	poison  []envelope.Envelope // written with the first commit

	// Read after done is closed.
	storeErr error // the commits that failed
	drainErr error // the last drain's error
}

type report struct {
	t *task
	o outcome
}

// newReporter starts the reporter for a batch of n tasks; the poison
// records' dead letters go out with its first commit.
func (s *Service) newReporter(ctx context.Context, n int, poison []envelope.Envelope) *reporter {
	r := &reporter{s: s, ctx: ctx, in: make(chan report, n), kick: make(chan struct{}, 1),
		done: make(chan struct{}), poison: poison}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for range r.kick {
			_, r.drainErr = r.s.relay.Drain(r.ctx)
		}
	}()
	go func() {
		defer close(r.done)
		r.loop()
		r.signal() // a last drain after the last commit (and for earlier leftovers)
		close(r.kick)
		<-drained
	}()
	return r
}

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
	if err := r.s.record(r.ctx, tasks, outs, r.poison); err != nil {
		r.storeErr = errors.Join(r.storeErr, err)
		return
	}
	r.s.countAttempts(tasks, outs, len(r.poison))
	r.poison = nil
	r.signal()
}
