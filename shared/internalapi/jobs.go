package internalapi

import (
	"encoding/json"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/paging"
)

// JobStatus is a job's live state, as the scheduler's PathJobStatus and
// PathJobCancel answer it. Optional fields are left out when empty:
// nextRunAt is set only while PENDING, leaseUntil only while RUNNING.
type JobStatus struct {
	JobID         string          `json:"jobId"`
	JobType       string          `json:"jobType"`
	Payload       json.RawMessage `json:"payload"`
	MaxRetryCount int             `json:"maxRetryCount"`
	TraceID       string          `json:"traceId"`
	Status        string          `json:"status"`
	Attempts      int             `json:"attempts"`
	LastError     string          `json:"lastError,omitempty"`
	LastErrorCode string          `json:"lastErrorCode,omitempty"`
	CreatedAt     time.Time       `json:"createdAt"`
	StartedAt     *time.Time      `json:"startedAt,omitempty"`
	FinishedAt    *time.Time      `json:"finishedAt,omitempty"`
	UpdatedAt     time.Time       `json:"updatedAt"`
	NextRunAt     *time.Time      `json:"nextRunAt,omitempty"`
	LeaseUntil    *time.Time      `json:"leaseUntil,omitempty"`
	WaitingUntil  *time.Time      `json:"waitingUntil,omitempty"` // while WAITING: when it wakes
	Version       int             `json:"version"`
	CreatedBy     string          `json:"createdBy,omitempty"` // the submitting caller
	// Callback: while WAITING for a WAIT_FOR_CALLBACK step, its open wait.
	Callback *CallbackWait `json:"callback,omitempty"`
}

// JobSummary is a job as the scheduler's PathJobs lists it: its live
// state without the payload (PathJobStatus has it), and a last error cut
// short (Truncated says so). A page of them stays small however large the
// jobs are.
type JobSummary struct {
	JobID         string     `json:"jobId"`
	JobType       string     `json:"jobType"`
	MaxRetryCount int        `json:"maxRetryCount"`
	TraceID       string     `json:"traceId"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"lastError,omitempty"`
	LastErrorCode string     `json:"lastErrorCode,omitempty"`
	Truncated     bool       `json:"truncated,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	StartedAt     *time.Time `json:"startedAt,omitempty"`
	FinishedAt    *time.Time `json:"finishedAt,omitempty"`
	UpdatedAt     time.Time  `json:"updatedAt"`
	NextRunAt     *time.Time `json:"nextRunAt,omitempty"`
	LeaseUntil    *time.Time `json:"leaseUntil,omitempty"`
	WaitingUntil  *time.Time `json:"waitingUntil,omitempty"` // while WAITING: when it wakes
	Version       int        `json:"version"`
	CreatedBy     string     `json:"createdBy,omitempty"` // the submitting caller
}

// CancelRequest is the body of POST PathJobCancel: the job's submission as
// the api accepted it, so that a job the scheduler has not ingested yet can
// be recorded as CANCELLED (its job-created, arriving later, then finds the
// row and does nothing). An empty body cancels only a job that exists.
type CancelRequest struct {
	envelope.JobCreated
	TraceID string `json:"traceId"`
	// By is the caller who cancels (the history's CANCELLED event shows
	// it); empty is "anonymous".
	By string `json:"by,omitempty"`
}

// Execution is one finished attempt as the worker's PathExecutions shows
// it.
type Execution struct {
	EventID    string                `json:"eventId"` // the run-job event ID
	JobID      string                `json:"jobId"`
	Attempt    int                   `json:"attempt"`
	TraceID    string                `json:"traceId,omitempty"`
	Status     string                `json:"status"` // COMPLETED or FAILED
	StartedAt  time.Time             `json:"startedAt"`
	FinishedAt time.Time             `json:"finishedAt"`
	DurationMs int64                 `json:"durationMs"`
	ErrorCode  string                `json:"errorCode,omitempty"`
	Error      string                `json:"error,omitempty"`
	Steps      []envelope.StepResult `json:"steps"`
}

// JobPage is a page of the scheduler's PathJobs. With updatedSince, the
// page is ordered by updatedAt and AsOf is the updatedSince of the next
// poll (see the scheduler's UpdatedSinceOverlap).
type JobPage struct {
	paging.Page[JobSummary]
	AsOf *time.Time `json:"asOf,omitempty"`
}
