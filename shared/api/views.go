package api

import (
	"encoding/json"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
)

// Job statuses, as the scheduler reports them.
const (
	StatusPending   = "PENDING"
	StatusRunning   = "RUNNING"
	StatusCompleted = "COMPLETED"
	StatusFailed    = "FAILED"
	StatusCancelled = "CANCELLED"
)

// Statuses lists the job statuses a list may filter on.
var Statuses = []string{StatusPending, StatusRunning, StatusCompleted, StatusFailed, StatusCancelled}

// Accepted answers a submission: 202 {jobId, traceId}.
type Accepted struct {
	JobID   string `json:"jobId"`
	TraceID string `json:"traceId"`
}

// JobView is a job as GET /api/jobs/{id}, the list and DELETE show it: the
// submission with its live state. Absent values are null.
type JobView struct {
	JobID         string          `json:"jobId"`
	JobType       string          `json:"jobType"`
	Payload       json.RawMessage `json:"payload"`
	MaxRetryCount int             `json:"maxRetryCount"`
	TraceID       string          `json:"traceId"`
	Status        string          `json:"status"`
	Attempts      int             `json:"attempts"`
	LastError     *string         `json:"lastError"`
	LastErrorCode *string         `json:"lastErrorCode"`
	CreatedAt     time.Time       `json:"createdAt"`
	StartedAt     *time.Time      `json:"startedAt"`
	FinishedAt    *time.Time      `json:"finishedAt"`
	UpdatedAt     time.Time       `json:"updatedAt"`
	NextRunAt     *time.Time      `json:"nextRunAt"`
}

// JobSummary is a job as GET /api/jobs lists it: a JobView without the
// payload (GET /api/jobs/{id} has it), its last error cut to 512
// characters when longer (truncated is then true). Absent values are
// null.
type JobSummary struct {
	JobID         string     `json:"jobId"`
	JobType       string     `json:"jobType"`
	MaxRetryCount int        `json:"maxRetryCount"`
	TraceID       string     `json:"traceId"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	LastError     *string    `json:"lastError"`
	LastErrorCode *string    `json:"lastErrorCode"`
	Truncated     bool       `json:"truncated"`
	CreatedAt     time.Time  `json:"createdAt"`
	StartedAt     *time.Time `json:"startedAt"`
	FinishedAt    *time.Time `json:"finishedAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
	NextRunAt     *time.Time `json:"nextRunAt"`
}

// schedulerSummary is an item of the scheduler's GET /internal/jobs
// (scheduler.JobSummary). Unknown fields are ignored.
type schedulerSummary struct {
	JobSummary
	Version int `json:"version"`
}

// view shows a list item with empty strings made null.
func (j schedulerSummary) view() JobSummary {
	v := j.JobSummary
	v.LastError, v.LastErrorCode = nonEmpty(v.LastError), nonEmpty(v.LastErrorCode)
	return v
}

// schedulerJob is the scheduler's job status JSON (scheduler.JobStatus, as
// GET /internal/jobs/{id}/status answers it): a JobView's fields, with the scheduler's empty strings and
// missing payload still to be made null, and the row's version. Unknown
// fields are ignored.
type schedulerJob struct {
	JobView
	Version int `json:"version"`
}

// view shows a scheduler entry as it is.
func (j schedulerJob) view() JobView {
	v := j.JobView
	if len(v.Payload) == 0 {
		v.Payload = json.RawMessage("null")
	}
	v.LastError, v.LastErrorCode = nonEmpty(v.LastError), nonEmpty(v.LastErrorCode)
	return v
}

// pendingView shows a submission the scheduler has not ingested yet.
func pendingView(s submission) JobView {
	return JobView{
		JobID:         s.ID,
		JobType:       s.JobType,
		Payload:       s.Payload,
		MaxRetryCount: s.MaxRetryCount,
		TraceID:       s.TraceID,
		Status:        StatusPending,
		CreatedAt:     s.CreatedAt,
		UpdatedAt:     s.CreatedAt,
	}
}

// mergeView shows a submission with the scheduler's live state: what was
// submitted comes from the api's own record, the rest from the scheduler.
func mergeView(s submission, live schedulerJob) JobView {
	v := live.view()
	v.JobID, v.JobType, v.Payload = s.ID, s.JobType, s.Payload
	v.MaxRetryCount, v.TraceID, v.CreatedAt = s.MaxRetryCount, s.TraceID, s.CreatedAt
	if v.UpdatedAt.IsZero() {
		v.UpdatedAt = s.CreatedAt
	}
	return v
}

func nonEmpty(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	return s
}

// Execution is one finished attempt as the worker recorded it.
type Execution struct {
	EventID    string          `json:"eventId"`
	Attempt    int             `json:"attempt"`
	Status     string          `json:"status"`
	StartedAt  time.Time       `json:"startedAt"`
	FinishedAt time.Time       `json:"finishedAt"`
	DurationMs int64           `json:"durationMs"`
	ErrorCode  *string         `json:"errorCode"`
	Error      *string         `json:"error"`
	Steps      []ExecutionStep `json:"steps"`
}

// ExecutionStep is the outcome of one step of an execution.
type ExecutionStep struct {
	Index      int     `json:"index"`
	Action     string  `json:"action"`
	Status     string  `json:"status"`
	DurationMs int64   `json:"durationMs"`
	Error      *string `json:"error"`
}

// normalized makes absent lists [] and empty strings null.
func (e Execution) normalized() Execution {
	e.ErrorCode, e.Error = nonEmpty(e.ErrorCode), nonEmpty(e.Error)
	steps := make([]ExecutionStep, len(e.Steps))
	for i, s := range e.Steps {
		s.Error = nonEmpty(s.Error)
		steps[i] = s
	}
	e.Steps = steps
	return e
}

// cancelRequest is the body of the scheduler's cancel call: the job as it
// was created, so that the scheduler can record the cancellation even
// before it has ingested the JobCreated event.
type cancelRequest struct {
	envelope.JobCreated
	TraceID string `json:"traceId"`
}
