package testwait_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/testwait"
)

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as testing's does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls Eventually on a recorder in its own goroutine and returns the
// failure message, "" if it returned.
func run(within time.Duration, cond func() bool) string {
	return onRecorder(func(tb testing.TB) { testwait.Eventually(tb, within, "the thing", cond) })
}

// onRecorder calls wait with a recorder in its own goroutine and returns
// the failure message, "" if it returned.
func onRecorder(wait func(testing.TB)) string {
	r := &fatalRecorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		wait(r)
	}()
	<-done
	return r.msg
}

func TestEventually(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	if msg := run(time.Minute, func() bool { return calls.Add(1) == 3 }); msg != "" || calls.Load() != 3 {
		t.Errorf("a condition true on the third call: failed %q after %d calls", msg, calls.Load())
	}
	calls.Store(0)
	if msg := run(30*time.Millisecond, func() bool { calls.Add(1); return false }); msg != "never happened within 30ms: the thing" {
		t.Errorf("a condition never true: failure %q", msg)
	}
	if calls.Load() < 2 {
		t.Errorf("a condition never true was polled %d times, want at least twice", calls.Load())
	}
}

func TestEventuallyState(t *testing.T) {
	t.Parallel()
	var calls, states atomic.Int32
	last := 0
	cond := func(n int32) func() bool {
		return func() bool { last = int(calls.Add(1)); return int32(last) == n }
	}
	state := func() string { states.Add(1); return fmt.Sprintf("call %d", last) }
	if msg := onRecorder(func(tb testing.TB) { testwait.EventuallyState(tb, time.Minute, "the thing", cond(3), state) }); msg != "" || calls.Load() != 3 || states.Load() != 0 {
		t.Errorf("a condition true on the third call: failed %q after %d calls, %d states", msg, calls.Load(), states.Load())
	}
	calls.Store(0)
	msg := onRecorder(func(tb testing.TB) { testwait.EventuallyState(tb, 30*time.Millisecond, "the thing", cond(-1), state) })
	if want := fmt.Sprintf("never happened within 30ms: the thing; last seen: call %d", calls.Load()); msg != want {
		t.Errorf("a condition never true: failure %q, want %q (the state of the last poll)", msg, want)
	}
	if calls.Load() < 2 || states.Load() != 1 {
		t.Errorf("a condition never true was polled %d times and its state read %d times, want at least twice and once", calls.Load(), states.Load())
	}
}
