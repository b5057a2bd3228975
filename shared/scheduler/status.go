package scheduler

import (
	"encoding/json"
	"net/url"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
)

// Job statuses.
const (
	StatusPending   = "PENDING"
	StatusRunning   = "RUNNING"
	StatusCompleted = "COMPLETED"
	StatusFailed    = "FAILED"
	StatusCancelled = "CANCELLED"
)

// Statuses lists every job status.
var Statuses = []string{StatusPending, StatusRunning, StatusCompleted, StatusFailed, StatusCancelled}

// Terminal reports whether status is final.
func Terminal(status string) bool {
	return status == StatusCompleted || status == StatusFailed || status == StatusCancelled
}

// Internal HTTP routes, as net/http patterns ({id} is the job ID).
const (
	PathJobStatus = "/internal/jobs/{id}/status" // GET: JobStatus
	PathJobs      = "/internal/jobs"             // GET: paging.Page[JobStatus]
	PathJobCancel = "/internal/jobs/{id}/cancel" // POST CancelRequest: JobStatus
)

// JobStatusPath returns the status route of a job.
func JobStatusPath(jobID string) string { return "/internal/jobs/" + url.PathEscape(jobID) + "/status" }

// JobCancelPath returns the cancel route of a job.
func JobCancelPath(jobID string) string { return "/internal/jobs/" + url.PathEscape(jobID) + "/cancel" }

// Error codes of the internal routes.
const (
	CodeJobNotFound    = "SCHEDULER.JOB_NOT_FOUND"
	CodeInvalidRequest = "SCHEDULER.INVALID_REQUEST"
	CodeJobTerminal    = "SCHEDULER.JOB_TERMINAL"
	CodeInternalError  = "SCHEDULER.INTERNAL_ERROR"
	// CodeRouteNotFound and CodeMethodNotAllowed answer requests that
	// match no internal route (404) or not its method (405).
	CodeRouteNotFound    = "SCHEDULER.ROUTE_NOT_FOUND"
	CodeMethodNotAllowed = "SCHEDULER.METHOD_NOT_ALLOWED"
	// CodeLeaseExpired is the error code of an attempt rescued after its
	// lease ran out.
	CodeLeaseExpired = "SCHEDULER.LEASE_EXPIRED"
	// CodePoisonRecord is the error code of a POISON_RECORD dead letter.
	CodePoisonRecord = "SCHEDULER.POISON_RECORD"
)

// errorNamespace prefixes the codes apierror makes up (INTERNAL_ERROR).
const errorNamespace = "SCHEDULER"

// Dead-letter reasons.
const (
	ReasonRetriesExhausted = "RETRIES_EXHAUSTED"
	ReasonPermanentFailure = "PERMANENT_FAILURE"
	ReasonPoisonRecord     = "POISON_RECORD"
)

// Attempt outcomes recorded in job_attempts and dead letters.
const (
	OutcomeCompleted    = "COMPLETED"
	OutcomeFailed       = "FAILED"
	OutcomeLeaseExpired = "LEASE_EXPIRED"
	OutcomeCancelled    = "CANCELLED"
)

// JobStatus is a job's live state, as the internal routes answer it.
// Optional fields are left out when empty: nextRunAt is set only while
// PENDING, leaseUntil only while RUNNING.
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
	Version       int             `json:"version"`
}

// CancelRequest is the body of POST PathJobCancel: the job's submission as
// the api accepted it, so that a job the scheduler has not ingested yet can
// be recorded as CANCELLED (its job-created, arriving later, then finds the
// row and does nothing). An empty body cancels only a job that exists.
type CancelRequest struct {
	envelope.JobCreated
	TraceID string `json:"traceId"`
}
