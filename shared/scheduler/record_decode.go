package scheduler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/poison"
)

// inbound is one decoded record of a Kafka batch: a job-created event or
// an attempt's result.
type inbound struct {
	Env     envelope.Envelope
	Created *envelope.JobCreated    // TypeJobCreated
	Result  *envelope.AttemptResult // TypeJobCompleted, TypeJobFailed
}

// parseRecord decodes and checks a record. Every error wraps
// envelope.ErrInvalid: the record is poison, and no retry can fix it.
func parseRecord(r events.KafkaRecord) (inbound, error) {
	env, err := kafka.Decode(r)
	if err != nil {
		return inbound{}, err
	}
	in := inbound{Env: env}
	switch env.Type {
	case envelope.TypeJobCreated:
		var c envelope.JobCreated
		if err := env.DecodePayload(&c); err != nil {
			return inbound{}, err
		}
		if err := checkSpec(c.JobSpec); err != nil {
			return inbound{}, fmt.Errorf("%w: JobCreated payload: %v", envelope.ErrInvalid, err)
		}
		in.Created = &c
	case envelope.TypeJobCompleted, envelope.TypeJobFailed:
		var res envelope.AttemptResult
		if err := env.DecodePayload(&res); err != nil {
			return inbound{}, err
		}
		if res.Attempt < 1 {
			return inbound{}, fmt.Errorf("%w: %s payload: attempt must be 1 or more (got %d)", envelope.ErrInvalid, env.Type, res.Attempt)
		}
		in.Result = &res
	default:
		return inbound{}, fmt.Errorf("%w: the scheduler does not consume %s events", envelope.ErrInvalid, env.Type)
	}
	// Decode checked both are UUIDs; compare them as Postgres prints them.
	in.Env.EventID = uuid.MustParse(env.EventID).String()
	in.Env.JobID = uuid.MustParse(env.JobID).String()
	in.Env.TraceID = clean(in.Env.TraceID)
	return in, nil
}

// checkSpec rejects a job Postgres could not store: no type, a payload
// that is not JSON or holds a \u0000 (jsonb refuses it), a NUL byte in
// text, or a negative retry budget.
func checkSpec(s envelope.JobSpec) error {
	switch {
	case s.JobType == "":
		return fmt.Errorf("jobType is required")
	case strings.ContainsRune(s.JobType, 0):
		return fmt.Errorf("jobType holds a NUL character")
	case len(s.Payload) == 0 || string(s.Payload) == "null" || !json.Valid(s.Payload):
		return fmt.Errorf("payload must be a JSON value")
	case hasNUL(s.Payload):
		return fmt.Errorf("payload holds a \\u0000 character, which Postgres jsonb cannot store")
	case s.MaxRetryCount < 0:
		return fmt.Errorf("maxRetryCount must be 0 or more (got %d)", s.MaxRetryCount)
	}
	return nil
}

// hasNUL reports whether a valid JSON document holds a NUL character in
// a string or key.
func hasNUL(doc []byte) bool {
	if !bytes.Contains(doc, []byte(`\u0000`)) {
		return false
	}
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return true
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case string:
			return strings.ContainsRune(v, 0)
		case []any:
			for _, e := range v {
				if walk(e) {
					return true
				}
			}
		case map[string]any:
			for k, e := range v {
				if strings.ContainsRune(k, 0) || walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

// clean drops NUL characters, which Postgres text cannot hold.
func clean(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// poisonDeadLetter builds the POISON_RECORD dead letter for a record that
// could not be decoded, the way every service does (package poison): its
// event ID derives from the record's topic, partition and offset, so a
// redelivered poison record makes no second dlq entry.
func poisonDeadLetter(r events.KafkaRecord, cause error, now time.Time) (envelope.Envelope, error) {
	e, _ := poison.DeadLetter(r, cause, CodePoisonRecord, now)
	return e, nil
}
