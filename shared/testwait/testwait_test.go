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
	r := &fatalRecorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		testwait.Eventually(r, within, "the thing", cond)
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
