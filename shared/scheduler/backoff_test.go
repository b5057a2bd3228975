package scheduler

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	const base, cap = time.Second, 300 * time.Second
	tests := []struct {
		name   string
		n      int
		jitter float64
		rnd    float64
		want   time.Duration
	}{
		{"first retry waits base", 1, 0, 0, time.Second},
		{"doubles", 2, 0, 0, 2 * time.Second},
		{"doubles again", 3, 0, 0, 4 * time.Second},
		{"attempt 9", 9, 0, 0, 256 * time.Second},
		{"capped", 10, 0, 0, cap},
		{"capped far out (no overflow)", 500, 0, 0, cap},
		{"jitter midpoint is exact", 3, 0.2, 0.5, 4 * time.Second},
		{"jitter low end", 3, 0.2, 0, 3200 * time.Millisecond},
		{"jitter high end", 3, 0.2, 1, 4800 * time.Millisecond},
		{"jitter never goes above the cap", 12, 0.2, 1, cap},
		{"jitter may go below the cap", 12, 0.2, 0, 240 * time.Second},
		{"attempt 0 is treated as 1", 0, 0, 0, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := backoff(tt.n, base, cap, tt.jitter, tt.rnd); got != tt.want {
				t.Fatalf("backoff(%d, jitter %g, rnd %g) = %s, want %s", tt.n, tt.jitter, tt.rnd, got, tt.want)
			}
		})
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	const base, cap, jitter = 100 * time.Millisecond, 10 * time.Second, 0.2
	for n := 1; n <= 10; n++ {
		nominal := min(base<<(n-1), cap)
		lo := time.Duration(float64(nominal) * (1 - jitter))
		hi := min(time.Duration(float64(nominal)*(1+jitter)), cap)
		for i := 0; i <= 100; i++ {
			rnd := float64(i) / 101
			d := backoff(n, base, cap, jitter, rnd)
			if d < lo || d > hi {
				t.Fatalf("backoff(%d, rnd %g) = %s, outside [%s, %s]", n, rnd, d, lo, hi)
			}
		}
		if n < 7 && backoff(n+1, base, cap, 0, 0) != 2*backoff(n, base, cap, 0, 0) {
			t.Fatalf("backoff does not double from attempt %d", n)
		}
	}
}
