package internalapi

import (
	"net/url"
	"strconv"
	"time"
)

// The scheduler's manual retry of a failed job, asked by the dlq when an
// operator retries a dead letter (the history helper's side).
//
// POST PathJobRetry with JobRetryRequest answers 202 JobRetryResponse: the
// job is PENDING again, due now, with a fresh retry budget; its attempt
// numbers carry on. It is idempotent per DLQID: the same dlqId answers the
// same 202. 409 SCHEDULER.JOB_NOT_RETRYABLE unless the job is FAILED; 404
// SCHEDULER.JOB_NOT_FOUND.
const PathJobRetry = "/internal/jobs/{id}/retry"

// JobRetryPath returns the scheduler's manual-retry route of a job.
func JobRetryPath(jobID string) string {
	return "/internal/jobs/" + url.PathEscape(jobID) + "/retry"
}

// JobRetryRequest is the body of POST PathJobRetry.
type JobRetryRequest struct {
	DLQID string `json:"dlqId"` // the dead letter retried: the key of idempotency
	By    string `json:"by"`    // who asked ("anonymous" until access control)
}

// JobRetryResponse is PathJobRetry's 202 answer.
type JobRetryResponse struct {
	JobID       string `json:"jobId"`
	Status      string `json:"status"`      // PENDING
	NextAttempt int    `json:"nextAttempt"` // the attempt number the job runs next
}

// Error codes of PathJobRetry.
const (
	CodeJobNotRetryable = "SCHEDULER.JOB_NOT_RETRYABLE"
	CodeJobNotFound     = "SCHEDULER.JOB_NOT_FOUND"
)

// Routes of the dlq's management ({id} is a dead letter's event ID, or an
// operation's ID).
const (
	PathDeadLetterRetry   = "/internal/dlq/{id}/retry"      // POST ActionRequest: 202 ActionResponse
	PathDeadLetterDismiss = "/internal/dlq/{id}/dismiss"    // POST ActionRequest: 200 ActionResponse
	PathOperations        = "/internal/dlq/operations"      // POST OperationRequest: 202 OperationCreated
	PathOperation         = "/internal/dlq/operations/{id}" // GET: Operation
	PathMaintain          = "/internal/dlq/maintain"        // POST: MaintainResult
)

// DeadLetterRetryPath returns the dlq's retry route of a dead letter.
func DeadLetterRetryPath(id string) string {
	return "/internal/dlq/" + url.PathEscape(id) + "/retry"
}

// DeadLetterDismissPath returns the dlq's dismiss route of a dead letter.
func DeadLetterDismissPath(id string) string {
	return "/internal/dlq/" + url.PathEscape(id) + "/dismiss"
}

// OperationPath returns the dlq's route of one bulk operation.
func OperationPath(id string) string {
	return "/internal/dlq/operations/" + url.PathEscape(id)
}

// Dead-letter statuses. Mapping failures are REPLAYED or PARTLY_REPLAYED;
// every other entry starts NEW and becomes RETRIED or DISMISSED.
const (
	DLQStatusNew            = "NEW"
	DLQStatusRetried        = "RETRIED"
	DLQStatusDismissed      = "DISMISSED"
	DLQStatusReplayed       = "REPLAYED"
	DLQStatusPartlyReplayed = "PARTLY_REPLAYED"
)

// DLQStatuses lists every dead-letter status; the list may filter on each.
var DLQStatuses = []string{DLQStatusNew, DLQStatusRetried, DLQStatusDismissed, DLQStatusReplayed, DLQStatusPartlyReplayed}

// DLQFilter selects dead letters: the list's query parameters (status,
// jobType, errorCode, reason, traceId, from, to: a failedAt range, from
// inclusive, to exclusive), and a bulk operation's filter. Empty fields
// match everything.
type DLQFilter struct {
	Status    string     `json:"status,omitempty"`
	JobType   string     `json:"jobType,omitempty"`
	ErrorCode string     `json:"errorCode,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	TraceID   string     `json:"traceId,omitempty"`
	From      *time.Time `json:"from,omitempty"`
	To        *time.Time `json:"to,omitempty"`
}

// ActionRequest is the body of PathDeadLetterRetry and
// PathDeadLetterDismiss.
type ActionRequest struct {
	By string `json:"by"`
}

// ActionResponse answers a retry (202) or a dismiss (200).
type ActionResponse struct {
	DLQID  string `json:"dlqId"`
	JobID  string `json:"jobId,omitempty"`
	Status string `json:"status"` // RETRIED or DISMISSED
}

// Kinds of bulk operation.
const (
	OperationRetry   = "DLQ_RETRY"
	OperationDismiss = "DLQ_DISMISS"
)

// Statuses of a bulk operation.
const (
	OperationRunning   = "RUNNING"
	OperationCompleted = "COMPLETED"
	OperationFailed    = "FAILED"
)

// MaxOperationIDs is how many IDs one bulk request may name.
const MaxOperationIDs = 1000

// OperationRequest is the body of POST PathOperations: a kind and either
// IDs or a filter (exactly one of them).
type OperationRequest struct {
	Kind   string     `json:"kind"`
	IDs    []string   `json:"ids"`
	Filter *DLQFilter `json:"filter,omitempty"`
	By     string     `json:"by"`
}

// OperationCreated is PathOperations' 202 answer.
type OperationCreated struct {
	OperationID string `json:"operationId"`
}

// Operation is a bulk operation's progress (PathOperation). Total is the
// number of entries it acts on (counted at the start; lowered at the end
// when some were resolved by others meanwhile), Done those it acted on,
// Failed those it could not act on.
type Operation struct {
	OperationID string     `json:"operationId"`
	Kind        string     `json:"kind"`
	Status      string     `json:"status"`
	Total       int        `json:"total"`
	Done        int        `json:"done"`
	Failed      int        `json:"failed"`
	StartedAt   time.Time  `json:"startedAt"`
	FinishedAt  *time.Time `json:"finishedAt"`
}

// MaintainResult is what one PathMaintain call did.
type MaintainResult struct {
	Chunks     int `json:"chunks"`     // operation chunks committed
	Operations int `json:"operations"` // operations finished
	Pruned     int `json:"pruned"`     // entries removed by retention
}

// MaxFilterLen bounds a text field of a DLQFilter.
const MaxFilterLen = 200

// ParseDLQFilter reads a DLQFilter from the list's query parameters and
// checks it (Check).
func ParseDLQFilter(q url.Values) (DLQFilter, error) {
	f := DLQFilter{Status: q.Get("status"), JobType: q.Get("jobType"), ErrorCode: q.Get("errorCode"),
		Reason: q.Get("reason"), TraceID: q.Get("traceId")}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return f, &FilterError{Field: p.name, Problem: "must be an RFC 3339 time such as 2026-12-04T10:00:00Z (got " + quote(v) + ")"}
		}
		t = t.UTC()
		*p.dst = &t
	}
	return f, f.Check()
}

// Query returns the filter as the list's query parameters.
func (f DLQFilter) Query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"status": f.Status, "jobType": f.JobType, "errorCode": f.ErrorCode, "reason": f.Reason, "traceId": f.TraceID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.From != nil {
		q.Set("from", f.From.UTC().Format(time.RFC3339Nano))
	}
	if f.To != nil {
		q.Set("to", f.To.UTC().Format(time.RFC3339Nano))
	}
	return q
}

// FilterError names a DLQFilter's bad field.
type FilterError struct{ Field, Problem string }

func (e *FilterError) Error() string { return e.Field + ": " + e.Problem }

// Check reports the first bad field: an unknown status, a text over
// MaxFilterLen characters, or from after to.
func (f DLQFilter) Check() error {
	if f.Status != "" {
		ok := false
		for _, s := range DLQStatuses {
			ok = ok || s == f.Status
		}
		if !ok {
			return &FilterError{Field: "status", Problem: "must be one of NEW, RETRIED, DISMISSED, REPLAYED, PARTLY_REPLAYED (got " + quote(f.Status) + ")"}
		}
	}
	for _, p := range []struct{ name, v string }{{"jobType", f.JobType}, {"errorCode", f.ErrorCode}, {"reason", f.Reason}, {"traceId", f.TraceID}} {
		if len(p.v) > MaxFilterLen {
			return &FilterError{Field: p.name, Problem: "must be at most 200 characters"}
		}
	}
	if f.From != nil && f.To != nil && f.From.After(*f.To) {
		return &FilterError{Field: "from", Problem: "must not be after to"}
	}
	return nil
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}
