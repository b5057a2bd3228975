package worker

import (
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/jobspec"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/pgtext"
	"github.com/jobweaver/jobweaver/shared/poison"
	"github.com/jobweaver/jobweaver/shared/step"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// Error codes of failed attempts and dead letters.
const (
	CodeStepFailed       = "WORKER.STEP_FAILED"
	CodeDeadlineExceeded = "WORKER.DEADLINE_EXCEEDED"
	CodeInvalidJob       = "WORKER.INVALID_JOB"
	CodePoisonRecord     = "WORKER.POISON_RECORD"
)

// Step and attempt statuses.
const (
	StepSucceeded = "SUCCEEDED"
	StepFailed    = "FAILED"
	StepSkipped   = "SKIPPED"

	StatusCompleted = "COMPLETED"
	StatusFailed    = "FAILED"
)

// The namespace of the derived result event IDs.
var resultNS = uuid.MustParse("a8c08b0c-9cad-4d47-ac91-540f26fd26dd")

// PoisonEventID is the event ID of the dead letter for the poison record
// at topic/partition/offset: the same for every delivery of that record
// (poison.EventID, shared by every service).
func PoisonEventID(topic string, partition, offset int64) string {
	return poison.EventID(topic, partition, offset)
}

// ResultEventID is the event ID of the job-completed or job-failed event
// for the run-job event runJobEventID.
func ResultEventID(runJobEventID string) string {
	return uuid.NewSHA1(resultNS, []byte(runJobEventID)).String()
}

// task is one decoded record: either a run-job attempt to run (with its
// steps, or the reason they cannot be parsed) or a poison record.
type task struct {
	rec     events.KafkaRecord
	eventID string // canonical form of the run-job event ID
	jobID   string // canonical form
	traceID string
	job     envelope.RunJob
	steps   []step.Step
	keep    bool  // the job type keeps its steps' outputs
	invalid error // the steps cannot be parsed: a permanent failure

	// cps are the job's checkpoints, loaded for the whole batch at once
	// (cpsLoaded); when that failed, the attempt loads its own.
	cps       map[int]checkpoint
	cpsLoaded bool

	poison error // non-nil for a poison record

	// traceparent is the attempt span's (tracing), for the result event.
	traceparent string
}

// decodeRecord classifies a record. It never fails: a record that is not
// a usable RunJob is a poison task.
func decodeRecord(rec events.KafkaRecord, types *jobspec.Registry) *task {
	t := &task{rec: rec}
	env, err := kafka.Decode(rec)
	if err != nil {
		t.poison = err
		return t
	}
	if env.Type != envelope.TypeRunJob {
		t.poison = fmt.Errorf("%w: type %q on %s (want %s)", envelope.ErrInvalid, env.Type, rec.Topic, envelope.TypeRunJob)
		return t
	}
	if err := env.DecodePayload(&t.job); err != nil {
		t.poison = err
		return t
	}
	if t.job.Attempt < 1 || t.job.Attempt > maxAttempt {
		t.poison = fmt.Errorf("%w: RunJob attempt must be from 1 to %d (got %d)", envelope.ErrInvalid, maxAttempt, t.job.Attempt)
		return t
	}
	eid, err1 := uuid.Parse(env.EventID)
	jid, err2 := uuid.Parse(env.JobID)
	if err1 != nil || err2 != nil { // envelope.Decode validated both; stay safe
		t.poison = fmt.Errorf("%w: eventId %q or jobId %q is not a UUID", envelope.ErrInvalid, env.EventID, env.JobID)
		return t
	}
	t.eventID, t.jobID = eid.String(), jid.String()
	t.traceID = pgtext.Clean(env.TraceID, 200)
	if t.traceID == "" {
		t.traceID = pgtext.Clean(kafka.Header(rec, trace.KafkaTraceHeader), 200)
	}
	jobType := t.job.JobType
	if jobType == "" {
		jobType = jobspec.Simulation.Name // the original contract's only type
	}
	steps, typ, err := types.Steps(jobType, t.job.Payload)
	t.keep = typ.KeepsOutputs
	if err != nil {
		t.invalid = err
		return t
	}
	if len(steps) == 0 {
		t.invalid = fmt.Errorf("payload.steps: the job has no steps")
		return t
	}
	t.steps = steps
	return t
}

// deadLetter builds the POISON_RECORD dead letter for a poison task, the
// way every service does (package poison).
func (t *task) deadLetter(now time.Time) envelope.Envelope {
	e, _ := poison.DeadLetter(t.rec, t.poison, CodePoisonRecord, now)
	return e
}

const (
	maxErrorBytes = envelope.MaxErrorBytes
	maxAttempt    = 1_000_000 // far beyond any retry budget; keeps int32 columns safe
)
