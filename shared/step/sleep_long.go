package step

import (
	"encoding/json"
	"time"
)

// MaxParkedSleepMs caps a SLEEP in the job types that resume (DATA_PIPELINE):
// 7 days. A SLEEP longer than the worker's park threshold
// (WORKER_PARK_THRESHOLD, 2 s by default) parks its job, holding no worker
// meanwhile; one longer than MaxSleepMs always parks, and does not count
// against the attempt's time budget. SIMULATION keeps the original
// contract's cap, MaxSleepMs.
const MaxParkedSleepMs = 7 * 24 * 3600 * 1000

// longSleepStep is SLEEP {durationMs} up to MaxParkedSleepMs.
type longSleepStep struct{ sleepStep }

func parseLongSleep(raw json.RawMessage) (Step, error) {
	var s sleepStep
	if err := strict(raw, &s); err != nil {
		return nil, err
	}
	if err := between("durationMs", s.DurationMs, 0, MaxParkedSleepMs, true); err != nil {
		return nil, err
	}
	return &longSleepStep{s}, nil
}

// Simulated is 0 for a sleep that always parks: it holds no attempt.
func (s *longSleepStep) Simulated() int64 {
	if *s.DurationMs > MaxSleepMs {
		return 0
	}
	return *s.DurationMs
}

// SleepDuration is how long s sleeps, if it is a SLEEP (with or without
// an id): the worker parks the job instead of running a long one.
func SleepDuration(s Step) (time.Duration, bool) {
	if i, ok := s.(*identified); ok {
		s = i.Step
	}
	switch v := s.(type) {
	case *sleepStep:
		return time.Duration(*v.DurationMs) * time.Millisecond, true
	case *longSleepStep:
		return time.Duration(*v.DurationMs) * time.Millisecond, true
	}
	return 0, false
}
