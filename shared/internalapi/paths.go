package internalapi

import "net/url"

// Routes of the scheduler, as net/http patterns ({id} is a job ID).
const (
	PathJobStatus       = "/internal/jobs/{id}/status" // GET: JobStatus
	PathJobs            = "/internal/jobs"             // GET: paging.Page[JobSummary]
	PathJobCancel       = "/internal/jobs/{id}/cancel" // POST CancelRequest: JobStatus
	PathAttemptsStart   = "/internal/attempts/start"   // POST AttemptsRequest: StartResponse
	PathAttemptsRelease = "/internal/attempts/release" // POST AttemptsRequest: ReleaseResponse
)

// Route of the worker ({jobId} is a job ID).
const PathExecutions = "/internal/executions/{jobId}" // GET: paging.Page[Execution]

// Routes of the dlq ({id} is a dead letter's event ID).
const (
	PathDeadLetters = "/internal/dlq"      // GET: paging.Page of dead-letter summaries
	PathDeadLetter  = "/internal/dlq/{id}" // GET: one dead letter
)

// JobStatusPath returns the scheduler's status route of a job.
func JobStatusPath(jobID string) string {
	return "/internal/jobs/" + url.PathEscape(jobID) + "/status"
}

// JobCancelPath returns the scheduler's cancel route of a job.
func JobCancelPath(jobID string) string {
	return "/internal/jobs/" + url.PathEscape(jobID) + "/cancel"
}

// ExecutionsPath returns the worker's executions route of a job.
func ExecutionsPath(jobID string) string {
	return "/internal/executions/" + url.PathEscape(jobID)
}

// DeadLetterPath returns the dlq's route of one dead letter.
func DeadLetterPath(id string) string {
	return "/internal/dlq/" + url.PathEscape(id)
}
