package internalapi

import (
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
)

// DeadLetter is one dead letter as the dlq's PathDeadLetters lists it (a
// summary) and PathDeadLetter shows it (whole). The api relays it as it
// is.
type DeadLetter struct {
	ID         string                    `json:"id"` // the job-dead-letter event ID
	JobID      string                    `json:"jobId,omitempty"`
	TraceID    string                    `json:"traceId"`
	JobType    string                    `json:"jobType,omitempty"`
	Reason     string                    `json:"reason"` // RETRIES_EXHAUSTED, PERMANENT_FAILURE, POISON_RECORD, MAPPING_FAILURE
	ErrorCode  string                    `json:"errorCode,omitempty"`
	LastError  string                    `json:"lastError,omitempty"`
	Job        *envelope.JobSpec         `json:"job,omitempty"` // jobType, payload, maxRetryCount
	Attempts   []envelope.AttemptSummary `json:"attempts"`
	Source     *envelope.PoisonSource    `json:"source,omitempty"`  // poison records and mapping failures
	Parked     *envelope.ParkedRow       `json:"parked,omitempty"`  // OUTBOX_PARKED: the outbox row the broker refused
	Trimmed    *envelope.Trimmed         `json:"trimmed,omitempty"` // what was cut for the dead letter to fit the broker
	Status     string                    `json:"status"`            // NEW, RETRIED, DISMISSED; mapping failures: REPLAYED, PARTLY_REPLAYED
	FailedAt   *time.Time                `json:"failedAt,omitempty"`
	ReceivedAt time.Time                 `json:"receivedAt"`
	// ResolvedAt and ResolvedBy say when and by whom the entry was
	// retried or dismissed; RetriedJobAttempt is the attempt number its
	// job ran next after a retry.
	ResolvedAt        *time.Time `json:"resolvedAt,omitempty"`
	ResolvedBy        string     `json:"resolvedBy,omitempty"`
	RetriedJobAttempt *int       `json:"retriedJobAttempt,omitempty"`
	// Truncated marks a list entry that leaves something out: the job's
	// payload, the record's raw value, or the end of a long error.
	// PathDeadLetter has everything.
	Truncated bool `json:"truncated,omitempty"`
}
