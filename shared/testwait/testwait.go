// Package testwait is how a test waits for something another goroutine or
// process does: Eventually polls a condition until it holds or a bound
// passes, and EventuallyState also says, when it fails, what the
// condition last saw. It imports only the standard library, so that any test may use
// it; a test that can be told when a thing happens (a channel, a hook, a
// counter it reads once) should wait on that instead.
package testwait

import (
	"testing"
	"time"
)

// The polling interval starts at minPoll and doubles up to maxPoll: a
// condition about to hold is seen soon, and a long wait polls gently.
const (
	minPoll = 10 * time.Millisecond
	maxPoll = 100 * time.Millisecond
)

// Eventually polls cond until it returns true, and fails the test (Fatal)
// if it has not within the bound, naming what never happened.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !poll(within, cond) {
		tb.Fatalf("never happened within %s: %s", within, what)
	}
}

// EventuallyState is Eventually whose failure also prints state(): what
// cond saw on its last poll (cond keeps it in a variable state reads).
// state is called once, after that last poll, so it may be costly.
func EventuallyState(tb testing.TB, within time.Duration, what string, cond func() bool, state func() string) {
	tb.Helper()
	if !poll(within, cond) {
		tb.Fatalf("never happened within %s: %s; last seen: %s", within, what, state())
	}
}

// poll calls cond until it returns true, or, once within has passed,
// returns false right after a last call.
func poll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for interval := minPoll; !cond(); interval = min(2*interval, maxPoll) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}
