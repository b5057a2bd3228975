package internalapi

import (
	"encoding/json"
	"net/url"
	"time"
)

// PathJobCallback is the scheduler's route of a WAIT_FOR_CALLBACK
// callback: POST CallbackRequest, answered 202 CallbackAccepted, or 404
// with the scheduler's CALLBACK_NOT_FOUND for a wrong, used or expired
// token or a job not waiting for one (one answer for all).
const PathJobCallback = "/internal/jobs/{id}/callback"

// JobCallbackPath returns the scheduler's callback route of a job.
func JobCallbackPath(jobID string) string {
	return "/internal/jobs/" + url.PathEscape(jobID) + "/callback"
}

// CallbackRequest is the body of POST PathJobCallback: the token from the
// public route and the callback's body, compact JSON of at most
// envelope.MaxCallbackBytes.
type CallbackRequest struct {
	Token string          `json:"token"`
	Body  json.RawMessage `json:"body"`
}

// CallbackAccepted answers a callback the job took: it is PENDING, due
// now, and its next attempt carries the body.
type CallbackAccepted struct {
	JobID  string `json:"jobId"`
	Status string `json:"status"`
}

// CallbackWait is a WAITING job's open callback, in JobStatus while it
// waits: the token of POST /api/jobs/{id}/callbacks/{token}, the step
// that waits, and when the wait times out.
type CallbackWait struct {
	Token     string    `json:"token"`
	StepIndex int       `json:"stepIndex"`
	StepID    string    `json:"stepId,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
}
