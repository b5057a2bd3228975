package internalapi

import "time"

// PathStats is the route through which the scheduler, the worker and the
// dlq report what GET /api/system shows of them (GET: SchedulerStats,
// WorkerStats, DLQStats).
const PathStats = "/internal/stats"

// ThroughputBucketSeconds is the width of one throughput point, and
// ThroughputPoints how many points the scheduler reports: the last hour,
// minute by minute.
const (
	ThroughputBucketSeconds = 60
	ThroughputPoints        = 60
)

// OutboxStats is a service's outbox backlog: rows waiting to be published
// (pending) and rows the broker refused for good (parked), which wait for
// an operator.
type OutboxStats struct {
	Pending int64 `json:"pending"`
	Parked  int64 `json:"parked"`
}

// ThroughputPoint is one minute of finished attempts: At is the minute's
// start; Completed counts attempts that completed their job, Failed those
// that failed (a failure result or a lease expiry, retried or not).
type ThroughputPoint struct {
	At        time.Time `json:"at"`
	Completed int64     `json:"completed"`
	Failed    int64     `json:"failed"`
}

// Throughput is a series of equal buckets, oldest first, with no gaps
// (a minute without finished attempts is a point of zeros).
type Throughput struct {
	BucketSeconds int               `json:"bucketSeconds"`
	Points        []ThroughputPoint `json:"points"`
}

// DueStats counts the PENDING jobs that are due (next_run_at has passed)
// and how long the one due longest has waited, in whole seconds (0 when
// none is due).
type DueStats struct {
	Count            int64 `json:"count"`
	OldestAgeSeconds int64 `json:"oldestAgeSeconds"`
}

// RunningStats counts the RUNNING jobs (dispatched, started or not).
type RunningStats struct {
	Count int64 `json:"count"`
}

// SchedulerStats is the scheduler's PathStats answer, read from its
// database in one snapshot.
type SchedulerStats struct {
	Due        DueStats     `json:"due"`
	Running    RunningStats `json:"running"`
	Throughput Throughput   `json:"throughput"`
	Outbox     OutboxStats  `json:"outbox"`
}

// WorkerStats is the worker's PathStats answer.
type WorkerStats struct {
	Outbox OutboxStats `json:"outbox"`
}

// DLQStats is the dlq's PathStats answer: its outbox (the same shape as
// every service's, normally empty) and the entries still NEW (open: no
// one has retried or dismissed them).
type DLQStats struct {
	Outbox OutboxStats `json:"outbox"`
	Open   int64       `json:"open"`
}

// Lag is how far one event-source mapping's consumer group is behind its
// topic: the records written to the topic that the group has not
// committed yet, summed over the partitions.
type Lag struct {
	Consumer string `json:"consumer"` // the function the mapping invokes
	Topic    string `json:"topic"`
	Group    string `json:"group"`
	Lag      int64  `json:"lag"`
}
