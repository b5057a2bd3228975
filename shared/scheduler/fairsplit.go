package scheduler

import "math"

// fairSplit divides n dispatch slots between the fresh and retry queues,
// given how many jobs each has due. ceil(n·freshRatio) slots are reserved
// for fresh jobs and the rest for retries; a queue that cannot use its
// share gives the rest to the other, so no slot idles while either queue
// has due work.
func fairSplit(n int, freshRatio float64, freshDue, retryDue int) (fresh, retry int) {
	if n <= 0 {
		return 0, 0
	}
	freshDue, retryDue = max(freshDue, 0), max(retryDue, 0)
	// The epsilon keeps float error (100·0.07 = 7.000000000000001) from
	// rounding a whole share up.
	reserved := int(math.Ceil(float64(n)*freshRatio - 1e-9))
	reserved = min(max(reserved, 0), n)
	fresh = min(freshDue, reserved)
	retry = min(retryDue, n-reserved)
	spare := n - fresh - retry
	extra := min(freshDue-fresh, spare)
	fresh += extra
	spare -= extra
	retry += min(retryDue-retry, spare)
	return fresh, retry
}
