package internalapi

// Job statuses, as the scheduler records and reports them.
const (
	StatusPending   = "PENDING"
	StatusRunning   = "RUNNING"
	StatusCompleted = "COMPLETED"
	StatusFailed    = "FAILED"
	StatusCancelled = "CANCELLED"
	// StatusWaiting is a parked job (a long SLEEP): it holds no worker
	// and wakes (PENDING) at its waitingUntil.
	StatusWaiting = "WAITING"
)

// Statuses lists every job status; a job list may filter on each.
var Statuses = []string{StatusPending, StatusRunning, StatusCompleted, StatusFailed, StatusCancelled, StatusWaiting}

// Terminal reports whether status is final.
func Terminal(status string) bool {
	return status == StatusCompleted || status == StatusFailed || status == StatusCancelled
}

// DefaultPageSize is the size of a list page when the request names none,
// in the public API (the original API's default) and on every internal
// list route.
const DefaultPageSize = 20
