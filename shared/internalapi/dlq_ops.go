package internalapi

import "net/url"

// PathJobRetry is the scheduler's manual retry of a FAILED job, called by
// the dlq when an entry is retried ({id} is a job ID).
// POST JobRetryRequest: 202 JobRetryResponse.
const PathJobRetry = "/internal/jobs/{id}/retry"

// JobRetryPath returns the scheduler's manual retry route of a job.
func JobRetryPath(id string) string {
	return "/internal/jobs/" + url.PathEscape(id) + "/retry"
}

// JobRetryRequest is the body of POST PathJobRetry: the dead letter
// retried (the retry is idempotent per dlqId) and who asked.
type JobRetryRequest struct {
	DLQID string `json:"dlqId"`
	By    string `json:"by"`
}

// JobRetryResponse answers POST PathJobRetry: the job is PENDING again and
// its next attempt is NextAttempt.
type JobRetryResponse struct {
	JobID       string `json:"jobId"`
	Status      string `json:"status"`
	NextAttempt int    `json:"nextAttempt"`
}
