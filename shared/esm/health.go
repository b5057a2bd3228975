package esm

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// Health tells what a mapping is stuck on: the batches its pollers keep
// retrying because the function fails them. A mapping with a Health
// records each failed attempt there and clears it once the batch is
// delivered. The zero value is ready; it is safe for concurrent use.
type Health struct {
	mu      sync.Mutex
	failing map[int]Failure // by poller
}

// Failure is a batch a poller has been retrying.
type Failure struct {
	Poller     int
	Partitions string // "topic-partition@first..last,..."
	Attempts   int
	Since      time.Time
	Err        string // the last attempt's error
}

func (f Failure) String() string {
	return fmt.Sprintf("poller %d has retried %s %d times since %s: %s",
		f.Poller, f.Partitions, f.Attempts, f.Since.Format(time.RFC3339), f.Err)
}

// Failing lists the batches being retried, by poller.
func (h *Health) Failing() []Failure {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Failure, 0, len(h.failing))
	for _, f := range h.failing {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Poller < out[j].Poller })
	return out
}

func (h *Health) failed(poller int, partitions string, attempt int, since time.Time, err error) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failing == nil {
		h.failing = map[int]Failure{}
	}
	h.failing[poller] = Failure{Poller: poller, Partitions: partitions, Attempts: attempt, Since: since, Err: err.Error()}
}

func (h *Health) delivered(poller int) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.failing, poller)
}
