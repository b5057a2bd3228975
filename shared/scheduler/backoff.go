package scheduler

import "time"

// backoff is the delay before the attempt after failed attempt n (1-based):
// min(base·2^(n-1), cap), scaled by a factor in [1-jitter, 1+jitter] that
// rnd (uniform in [0, 1)) picks, and never above cap.
func backoff(n int, base, cap time.Duration, jitter, rnd float64) time.Duration {
	d := base
	for i := 1; i < n && d < cap; i++ {
		d *= 2 // stops at cap, long before overflowing
	}
	d = min(d, cap)
	if jitter > 0 {
		d = time.Duration(float64(d) * (1 + jitter*(2*rnd-1)))
	}
	return min(max(d, 0), cap)
}
