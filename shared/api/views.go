package api

import (
	"encoding/json"
	"time"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

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
	CreatedBy     string          `json:"createdBy"` // the submitting caller
	// WaitingUntil: a WAITING (parked) job's wake time; absent otherwise.
	WaitingUntil *time.Time `json:"waitingUntil,omitempty"`
	// Callback: while WAITING for a WAIT_FOR_CALLBACK step, its open wait
	// (callbacks.go); absent otherwise.
	Callback *CallbackView `json:"callback,omitempty"`
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
	CreatedBy     string     `json:"createdBy"` // the submitting caller
	// WaitingUntil: a WAITING (parked) job's wake time; absent otherwise.
	WaitingUntil *time.Time `json:"waitingUntil,omitempty"`
}

// summaryView shows an item of the scheduler's job list with empty
// strings made null.
func summaryView(j internalapi.JobSummary) JobSummary {
	return JobSummary{
		JobID: j.JobID, JobType: j.JobType, MaxRetryCount: j.MaxRetryCount, TraceID: j.TraceID,
		Status: j.Status, Attempts: j.Attempts,
		LastError: nonEmptyString(j.LastError), LastErrorCode: nonEmptyString(j.LastErrorCode), Truncated: j.Truncated,
		CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, UpdatedAt: j.UpdatedAt, NextRunAt: j.NextRunAt,
		CreatedBy: callerOrAnonymous(j.CreatedBy), WaitingUntil: j.WaitingUntil,
	}
}

// callerOrAnonymous is the caller, or "anonymous" for a job recorded
// before callers were (an older scheduler answers none).
func callerOrAnonymous(c string) string {
	if c == "" {
		return auth.Anonymous
	}
	return c
}

// statusView shows the scheduler's job status with empty strings and a
// missing payload made null.
func statusView(j internalapi.JobStatus) JobView {
	payload := j.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("null")
	}
	return JobView{
		JobID: j.JobID, JobType: j.JobType, Payload: payload, MaxRetryCount: j.MaxRetryCount, TraceID: j.TraceID,
		Status: j.Status, Attempts: j.Attempts,
		LastError: nonEmptyString(j.LastError), LastErrorCode: nonEmptyString(j.LastErrorCode),
		CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, UpdatedAt: j.UpdatedAt, NextRunAt: j.NextRunAt,
		CreatedBy: callerOrAnonymous(j.CreatedBy), WaitingUntil: j.WaitingUntil,
	}
}

// pendingView shows a submission the scheduler has not ingested yet.
func pendingView(s submission) JobView {
	return JobView{
		JobID:         s.ID,
		JobType:       s.JobType,
		Payload:       s.Payload,
		MaxRetryCount: s.MaxRetryCount,
		TraceID:       s.TraceID,
		Status:        internalapi.StatusPending,
		CreatedAt:     s.CreatedAt,
		UpdatedAt:     s.CreatedAt,
		CreatedBy:     callerOrAnonymous(s.CreatedBy),
	}
}

// mergeView shows a submission with the scheduler's live state: what was
// submitted comes from the api's own record, the rest from the scheduler.
func mergeView(s submission, live internalapi.JobStatus) JobView {
	v := statusView(live)
	v.JobID, v.JobType, v.Payload = s.ID, s.JobType, s.Payload
	v.MaxRetryCount, v.TraceID, v.CreatedAt = s.MaxRetryCount, s.TraceID, s.CreatedAt
	v.CreatedBy = callerOrAnonymous(s.CreatedBy)
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

// nonEmptyString is s, or nil when s is empty.
func nonEmptyString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
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
	// ID, Output and OutputOmitted: the step's id and kept output
	// (WEBHOOK, DATA_PIPELINE; docs/job-types.md), as the worker shows them.
	ID            string          `json:"id,omitempty"`
	Output        json.RawMessage `json:"output,omitempty"`
	OutputOmitted bool            `json:"outputOmitted,omitempty"`
	// Resumed: the step finished in an earlier attempt and did not run
	// again (durable resume; docs/reliability.md).
	Resumed bool `json:"resumed,omitempty"`
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
