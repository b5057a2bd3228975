// Package envelope defines the versioned JSON envelope that every lifecycle
// event travels in, the topics, and the payload of each event type.
//
// An envelope is {eventId, type, version, time, traceId, jobId, payload}.
// Records are keyed by job ID and carry the traceId, eventId and type
// headers.
package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Version is the envelope version this code writes and reads.
const Version = 1

// MaxErrorBytes caps every error text an event carries: a step's error,
// an attempt's error, a dead letter's lastError and each of its attempts'.
// Encoded, such a text takes at most EncodedStringBound(MaxErrorBytes).
const MaxErrorBytes = 4096

// The lifecycle topics.
const (
	TopicJobCreated    = "job-created"
	TopicRunJob        = "run-job"
	TopicJobCompleted  = "job-completed"
	TopicJobFailed     = "job-failed"
	TopicJobDeadLetter = "job-dead-letter"
)

// Event types, one per topic.
const (
	TypeJobCreated    = "JobCreated"
	TypeRunJob        = "RunJob"
	TypeJobCompleted  = "JobCompleted"
	TypeJobFailed     = "JobFailed"
	TypeJobDeadLetter = "JobDeadLetter"
)

// TopicOf maps an event type to its topic.
var TopicOf = map[string]string{
	TypeJobCreated:    TopicJobCreated,
	TypeRunJob:        TopicRunJob,
	TypeJobCompleted:  TopicJobCompleted,
	TypeJobFailed:     TopicJobFailed,
	TypeJobDeadLetter: TopicJobDeadLetter,
}

// Envelope wraps every event.
type Envelope struct {
	EventID string          `json:"eventId"`
	Type    string          `json:"type"`
	Version int             `json:"version"`
	Time    time.Time       `json:"time"`
	TraceID string          `json:"traceId"`
	JobID   string          `json:"jobId"`
	Payload json.RawMessage `json:"payload"`
	// TraceParent is the W3C traceparent of the span that caused the
	// event: it travels as the record's traceparent header (and in the
	// outbox row's headers), not in the envelope.
	TraceParent string `json:"-"`
}

// New builds an envelope with a fresh event ID around payload.
func New(typ, traceID, jobID string, payload any) (Envelope, error) {
	if _, ok := TopicOf[typ]; !ok {
		return Envelope{}, fmt.Errorf("envelope: unknown event type %q", typ)
	}
	p, err := JSON(payload)
	if err != nil {
		return Envelope{}, fmt.Errorf("envelope: encode %s payload: %w", typ, err)
	}
	return Envelope{
		EventID: uuid.NewString(),
		Type:    typ,
		Version: Version,
		Time:    time.Now().UTC(),
		TraceID: traceID,
		JobID:   jobID,
		Payload: p,
	}, nil
}

// Topic returns the topic this envelope is published to.
func (e Envelope) Topic() string { return TopicOf[e.Type] }

// Marshal encodes the envelope, without HTML escaping (see [JSON]).
func (e Envelope) Marshal() []byte {
	b, _ := JSON(e) // cannot fail: all fields are plain values
	return b
}

// JSON encodes v as encoding/json does, except that it leaves <, > and &
// as they are: encoding/json writes each as a six-byte \u003c escape, in
// strings and in embedded json.RawMessage alike, which can make an event
// six times the size of what was submitted. Every event and stored
// payload is encoded with it.
func JSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// ErrInvalid is wrapped by every decoding error.
var ErrInvalid = errors.New("invalid event")

// Decode parses and checks an envelope.
func Decode(b []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return Envelope{}, fmt.Errorf("%w: not a JSON envelope: %v", ErrInvalid, err)
	}
	switch {
	case e.Version != Version:
		return e, fmt.Errorf("%w: unsupported version %d (want %d)", ErrInvalid, e.Version, Version)
	case TopicOf[e.Type] == "":
		return e, fmt.Errorf("%w: unknown type %q", ErrInvalid, e.Type)
	case uuid.Validate(e.EventID) != nil:
		return e, fmt.Errorf("%w: eventId %q is not a UUID", ErrInvalid, e.EventID)
	case e.Type != TypeJobDeadLetter && uuid.Validate(e.JobID) != nil:
		return e, fmt.Errorf("%w: jobId %q is not a UUID", ErrInvalid, e.JobID)
	case len(e.Payload) == 0 || string(e.Payload) == "null":
		return e, fmt.Errorf("%w: payload missing", ErrInvalid)
	}
	return e, nil
}

// DecodePayload decodes the payload into v, wrapping ErrInvalid.
func (e Envelope) DecodePayload(v any) error {
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return fmt.Errorf("%w: %s payload: %v", ErrInvalid, e.Type, err)
	}
	return nil
}

// JobSpec is the submission a job runs: its type, steps and retry budget.
type JobSpec struct {
	JobType       string          `json:"jobType"`
	Payload       json.RawMessage `json:"payload"` // {"steps":[...]}
	MaxRetryCount int             `json:"maxRetryCount"`
}

// JobCreated is published by the api when a job is accepted.
type JobCreated struct {
	JobSpec
	CreatedAt time.Time `json:"createdAt"`
	// CreatedBy is the caller who submitted the job (an API key's ID,
	// "jwt:<sub>" or "anonymous"). Events from before it existed have
	// none; consumers read that as "anonymous".
	CreatedBy string `json:"createdBy,omitempty"`
}

// RunJob asks a worker to run one attempt of a job.
type RunJob struct {
	JobSpec
	Attempt      int       `json:"attempt"` // 1-based
	DispatchedAt time.Time `json:"dispatchedAt"`
	// LeaseUntil is unset (omitted): the lease starts when a worker claims
	// the attempt, not at dispatch. Older schedulers set it.
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
	// Callback is the result of the job's last WAIT_FOR_CALLBACK wait, if
	// it has one (callback.go).
	Callback *CallbackResult `json:"callback,omitempty"`
}

// StepResult is the outcome of one step of an attempt.
type StepResult struct {
	Index      int    `json:"index"`
	Action     string `json:"action"`
	Status     string `json:"status"` // SUCCEEDED, FAILED, SKIPPED
	DurationMs int64  `json:"durationMs"`
	Error      string `json:"error,omitempty"`
	// Resumed marks a step finished in an earlier attempt of the job: it
	// did not run again, its checkpointed output fed the later steps.
	Resumed bool `json:"resumed,omitempty"`
}

// AttemptResult is the payload of JobCompleted and JobFailed.
type AttemptResult struct {
	Attempt    int          `json:"attempt"`
	StartedAt  time.Time    `json:"startedAt"`
	FinishedAt time.Time    `json:"finishedAt"`
	DurationMs int64        `json:"durationMs"`
	Steps      []StepResult `json:"steps"`
	ErrorCode  string       `json:"errorCode,omitempty"` // JobFailed only, e.g. WORKER.STEP_FAILED
	Error      string       `json:"error,omitempty"`     // JobFailed only
	// Permanent marks a failure that no retry can fix (an undecodable job).
	Permanent bool `json:"permanent,omitempty"`
	// Yielded marks an attempt cut by its invocation's deadline (or its
	// lease) with its finished steps checkpointed: not a failure. The
	// scheduler dispatches the job again at once without charging a retry
	// and the next attempt resumes at the first unfinished step. Sent as
	// a JobFailed (ErrorCode WORKER.YIELDED).
	Yielded bool `json:"yielded,omitempty"`
	// ParkUntil is set when the attempt parked the job (a long SLEEP):
	// the scheduler makes it WAITING until then, uncharged, and then
	// dispatches it again to resume. Sent as a JobFailed (ErrorCode
	// WORKER.PARKED).
	ParkUntil *time.Time `json:"parkUntil,omitempty"`
	// AwaitCallback is set with ParkUntil when the attempt parked for a
	// callback (WAIT_FOR_CALLBACK): ParkUntil is then its timeout.
	AwaitCallback *AwaitCallback `json:"awaitCallback,omitempty"`
}

// AttemptSummary is one attempt in a dead-letter event.
type AttemptSummary struct {
	Attempt      int        `json:"attempt"`
	DispatchedAt time.Time  `json:"dispatchedAt"`
	FinishedAt   *time.Time `json:"finishedAt,omitempty"`
	DurationMs   int64      `json:"durationMs"`
	Outcome      string     `json:"outcome"` // COMPLETED, FAILED, LEASE_EXPIRED
	ErrorCode    string     `json:"errorCode,omitempty"`
	Error        string     `json:"error,omitempty"`
}

// JobDeadLetter is published when a job has no retries left, or when a
// record could not be processed at all (a poison record).
type JobDeadLetter struct {
	JobSpec
	Reason    string           `json:"reason"` // RETRIES_EXHAUSTED, PERMANENT_FAILURE, POISON_RECORD, OUTBOX_PARKED
	ErrorCode string           `json:"errorCode,omitempty"`
	LastError string           `json:"lastError,omitempty"`
	Attempts  []AttemptSummary `json:"attempts"`
	FailedAt  time.Time        `json:"failedAt"`
	// For POISON_RECORD: where the record came from and its raw value.
	Source *PoisonSource `json:"source,omitempty"`
	// For OUTBOX_PARKED: the outbox row the broker refused for good.
	Parked *ParkedRow `json:"parked,omitempty"`
	// Trimmed is set when parts were cut to fit the broker's record limit.
	Trimmed *Trimmed `json:"trimmed,omitempty"`
}

// ParkedRow identifies an outbox row that the broker refused for a
// reason no retry can fix (say MESSAGE_TOO_LARGE): it was moved to its
// service's outbox_parked table, where it keeps its value.
type ParkedRow struct {
	Service   string `json:"service"`
	ParkedID  int64  `json:"parkedId"` // outbox_parked.id in the service's database
	Topic     string `json:"topic"`
	Key       string `json:"key,omitempty"`
	EventID   string `json:"eventId,omitempty"`
	EventType string `json:"eventType,omitempty"`
	Bytes     int    `json:"bytes"` // the record value's size
	Error     string `json:"error"` // what the broker or the relay said
}

// PoisonSource locates a record that could not be decoded, or (in the
// dlq) the records of a batch an event-source mapping gave up on.
type PoisonSource struct {
	Topic     string `json:"topic"`
	Partition int64  `json:"partition"`
	Offset    int64  `json:"offset"`
	Value     string `json:"value"` // as received: a record's base64 value; a mapping failure's queue message
	// A mapping failure's range is Offset..LastOffset, given up by the
	// event-source mapping of Function under Condition
	// (RetryAttemptsExhausted, RecordAgeExceeded, ...).
	LastOffset int64  `json:"lastOffset,omitempty"`
	Function   string `json:"function,omitempty"`
	Condition  string `json:"condition,omitempty"`
}
