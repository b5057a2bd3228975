package internalapi

import (
	"net/url"
	"time"
)

// PathJobHistory is the scheduler's lifecycle of a job ({id} is a job
// ID). GET: JobHistory.
const PathJobHistory = "/internal/jobs/{id}/history"

// JobHistoryPath returns the scheduler's history route of a job.
func JobHistoryPath(id string) string {
	return "/internal/jobs/" + url.PathEscape(id) + "/history"
}

// History event types, in the order a job meets them.
const (
	EventSubmitted        = "SUBMITTED"
	EventDispatched       = "DISPATCHED"
	EventStarted          = "STARTED"
	EventAttemptCompleted = "ATTEMPT_COMPLETED"
	EventAttemptFailed    = "ATTEMPT_FAILED"
	EventLeaseExpired     = "LEASE_EXPIRED"
	EventRetryScheduled   = "RETRY_SCHEDULED"
	EventDeadLettered     = "DEAD_LETTERED"
	EventManualRetry      = "MANUAL_RETRY"
	EventCancelled        = "CANCELLED"
	EventCompleted        = "COMPLETED"
	EventFailed           = "FAILED"
	// EventAttemptYielded: the attempt was cut by a deadline with its
	// finished steps checkpointed; the job is dispatched again, uncharged.
	EventAttemptYielded = "ATTEMPT_YIELDED"
	// EventParked: the attempt parked the job (WAITING) until NextRunAt.
	EventParked = "PARKED"
)

// HistoryEventTypes lists every history event type.
var HistoryEventTypes = []string{EventSubmitted, EventDispatched, EventStarted, EventAttemptCompleted,
	EventAttemptFailed, EventLeaseExpired, EventRetryScheduled, EventDeadLettered, EventManualRetry,
	EventCancelled, EventCompleted, EventFailed, EventAttemptYielded, EventParked}

// JobHistory is a job's lifecycle, oldest event first.
type JobHistory struct {
	JobID  string         `json:"jobId"`
	Events []HistoryEvent `json:"events"`
}

// HistoryEvent is one step of a job's lifecycle. Attempt is the attempt
// the event is about (for RETRY_SCHEDULED and MANUAL_RETRY, the attempt
// they lead to); Message and ErrorCode tell why an attempt failed or the
// job was dead-lettered; By and DLQID name a manual retry's caller and
// the dead letter it retried (DLQID also names a DEAD_LETTERED event's
// entry); NextRunAt is when a scheduled retry is due. A CANCELLED
// event's By is who cancelled (issue #12; empty for older cancels).
type HistoryEvent struct {
	At        time.Time  `json:"at"`
	Type      string     `json:"type"`
	Attempt   int        `json:"attempt,omitempty"`
	Message   string     `json:"message,omitempty"`
	ErrorCode string     `json:"errorCode,omitempty"`
	By        string     `json:"by,omitempty"`
	DLQID     string     `json:"dlqId,omitempty"`
	NextRunAt *time.Time `json:"nextRunAt,omitempty"`
}
