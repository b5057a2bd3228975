package scheduler

// Error codes of the internal routes.
const (
	CodeJobNotFound    = "SCHEDULER.JOB_NOT_FOUND"
	CodeInvalidRequest = "SCHEDULER.INVALID_REQUEST"
	CodeJobTerminal    = "SCHEDULER.JOB_TERMINAL"
	// CodeJobNotRetryable refuses a manual retry of a job that is not
	// FAILED.
	CodeJobNotRetryable = "SCHEDULER.JOB_NOT_RETRYABLE"
	CodeInternalError   = "SCHEDULER.INTERNAL_ERROR"
	// CodeRouteNotFound and CodeMethodNotAllowed answer requests that
	// match no internal route (404) or not its method (405), as
	// internalhttp makes them for every function.
	CodeRouteNotFound    = "SCHEDULER.NOT_FOUND"
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
	// OutcomeYielded: the attempt was cut by a deadline with its finished
	// steps checkpointed; dispatched again at once, uncharged.
	OutcomeYielded = "YIELDED"
	// OutcomeParked: the attempt parked the job (a long SLEEP); WAITING
	// until its wake time, uncharged.
	OutcomeParked = "PARKED"
)
