package scheduler

import "testing"

func TestFairSplit(t *testing.T) {
	tests := []struct {
		name                 string
		n                    int
		ratio                float64
		freshDue, retryDue   int
		wantFresh, wantRetry int
	}{
		{"both queues full: the ratio decides", 100, 0.5, 500, 500, 50, 50},
		{"odd batch: fresh share rounds up", 5, 0.5, 10, 10, 3, 2},
		{"one fresh among many retries goes out", 100, 0.5, 1, 10_000, 1, 99},
		{"only retries due: full batch of retries", 100, 0.5, 0, 10_000, 0, 100},
		{"only fresh due: full batch of fresh", 100, 0.5, 10_000, 0, 100, 0},
		{"fewer due than slots: everything goes", 100, 0.5, 30, 20, 30, 20},
		{"retries short: fresh takes the rest", 100, 0.5, 300, 10, 90, 10},
		{"fresh short: retries take the rest", 100, 0.8, 10, 300, 10, 90},
		{"ratio 0: retries first, fresh fills", 10, 0, 20, 4, 6, 4},
		{"ratio 1: fresh first, retries fill", 10, 1, 4, 20, 4, 6},
		{"float error does not round up", 100, 0.07, 500, 500, 7, 93},
		{"ratio 0.29", 100, 0.29, 500, 500, 29, 71},
		{"nothing due", 100, 0.5, 0, 0, 0, 0},
		{"no slots", 0, 0.5, 10, 10, 0, 0},
		{"negative slots (over the cap)", -5, 0.5, 10, 10, 0, 0},
		{"one slot, ratio 0.5: fresh", 1, 0.5, 1, 1, 1, 0},
		{"one slot, no fresh due: retry", 1, 0.5, 0, 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, r := fairSplit(tt.n, tt.ratio, tt.freshDue, tt.retryDue)
			if f != tt.wantFresh || r != tt.wantRetry {
				t.Fatalf("fairSplit(%d, %g, %d, %d) = %d, %d; want %d, %d",
					tt.n, tt.ratio, tt.freshDue, tt.retryDue, f, r, tt.wantFresh, tt.wantRetry)
			}
		})
	}
}

// FuzzFairSplit checks the invariants: never more than n or than what is
// due, never an idle slot while work is due, and the reservation honoured.
func FuzzFairSplit(f *testing.F) {
	f.Add(100, 0.5, 1, 10_000)
	f.Add(7, 0.3, 2, 1)
	f.Fuzz(func(t *testing.T, n int, ratio float64, freshDue, retryDue int) {
		if n > 1<<20 || n < -1<<20 || !(ratio >= 0 && ratio <= 1) || freshDue > 1<<20 || retryDue > 1<<20 {
			return // outside what a config or a count can hold
		}
		fr, re := fairSplit(n, ratio, freshDue, retryDue)
		if fr < 0 || re < 0 || fr+re > max(n, 0) || fr > max(freshDue, 0) || re > max(retryDue, 0) {
			t.Fatalf("fairSplit(%d, %g, %d, %d) = %d, %d: out of bounds", n, ratio, freshDue, retryDue, fr, re)
		}
		if n > 0 && fr+re < n && (fr < freshDue || re < retryDue) {
			t.Fatalf("fairSplit(%d, %g, %d, %d) = %d, %d: idle slot with work due", n, ratio, freshDue, retryDue, fr, re)
		}
	})
}
