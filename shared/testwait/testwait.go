// Package testwait is how a test waits for something another goroutine or
// process does: Eventually polls a condition until it holds or a bound
// passes. It imports only the standard library, so that any test may use
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
	deadline := time.Now().Add(within)
	for poll := minPoll; !cond(); poll = min(2*poll, maxPoll) {
		if time.Now().After(deadline) {
			tb.Fatalf("never happened within %s: %s", within, what)
		}
		time.Sleep(poll)
	}
}
