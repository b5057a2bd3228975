package jobspec

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
)

// Worst-case sizes, in encoded bytes, of what a job's events hold besides
// its payload. An event's encoded strings take at most
// envelope.EncodedStringBound of their length (six bytes a byte).
const (
	// EnvelopeBytes bounds the envelope around any payload: eventId,
	// type, version, time, jobId (under 250 bytes with their keys), a
	// trace ID of at most 128 bytes (trace.MaxHTTPLen, 770 bytes encoded)
	// and the job-created event's createdBy: a key's UUID, anonymous, or
	// jwt:<sub> with sub at most auth.MaxSubjectLen printable ASCII
	// characters (under 550 bytes encoded with its key).
	EnvelopeBytes = 2048
	// SpecBytes bounds what an event adds to the payload it carries: the
	// jobType (a known, short name), maxRetryCount, attempt, times and keys.
	SpecBytes = 512
	// AttemptBytes bounds one attempt of a dead letter without its error
	// texts: its number, times, duration, outcome and keys.
	AttemptBytes = 256
	// ErrorCodeBytes bounds an error code (cleaned to 200 bytes).
	ErrorCodeBytes = 200
	// StepResultBytes bounds one step's result in a job-completed or
	// job-failed event, without its error text.
	StepResultBytes = 256
)

// EventSizes are the worst-case encoded sizes of a job's events.
type EventSizes struct {
	// Payload is the payload as events carry it, at its largest: its
	// compact JSON plus one byte for every separator (Postgres jsonb,
	// which the scheduler stores it in, writes ", " and ": ").
	Payload       int
	JobCreated    int
	RunJob        int
	Result        int // job-completed or job-failed: does not grow with the payload
	DeadLetter    int // with all maxRetryCount+1 attempts' errors
	Limit         int // kafka.MaxEventBytes
	LargestEvent  string
	Largest       int
	MaxRetryCount int // the job's, which DeadLetter counts with
}

// EventSizes works out the worst case of each of the job's events: what
// the api checks at submit against kafka.MaxEventBytes.
func (j Job) EventSizes() EventSizes {
	p := j.PayloadJSON()
	s := EventSizes{Payload: len(p) + separators(p), Limit: kafka.MaxEventBytes, MaxRetryCount: j.MaxRetryCount}
	errText := envelope.EncodedStringBound(envelope.MaxErrorBytes)
	code := envelope.EncodedStringBound(ErrorCodeBytes)
	s.JobCreated = EnvelopeBytes + SpecBytes + s.Payload
	s.RunJob = EnvelopeBytes + SpecBytes + s.Payload
	if waitsForCallback(j.Steps) {
		// Its run-jobs carry the callback's body (envelope.CallbackResult).
		s.RunJob += envelope.CallbackBytes
	}
	// A failed step's error and the attempt's error, which quotes it.
	s.Result = EnvelopeBytes + SpecBytes + len(j.Steps)*(StepResultBytes+envelope.EncodedStringBound(100)) + 2*errText + code
	s.DeadLetter = EnvelopeBytes + SpecBytes + s.Payload + code + errText +
		(j.MaxRetryCount+1)*(AttemptBytes+code+errText)
	for _, e := range []struct {
		name string
		n    int
	}{{"job-created", s.JobCreated}, {"run-job", s.RunJob}, {"job-completed/job-failed", s.Result}, {"job-dead-letter", s.DeadLetter}} {
		if e.n > s.Largest {
			s.Largest, s.LargestEvent = e.n, e.name
		}
	}
	return s
}

// SizeError says that a job's events could not all fit the broker.
type SizeError struct{ EventSizes }

func (e *SizeError) Error() string {
	room := e.Limit - (e.Largest - e.Payload)
	return fmt.Sprintf("the job's %s event could take up to %d bytes once encoded, over the broker's %d-byte limit; "+
		"its payload takes %d bytes as events carry it, and with maxRetryCount %d it may take at most about %d: "+
		"make the steps' messages shorter, use fewer steps, or lower maxRetryCount",
		e.LargestEvent, e.Largest, e.Limit, e.Payload, e.MaxRetryCount, max(room, 0))
}

// CheckSize returns a *SizeError if one of the job's events could exceed
// kafka.MaxEventBytes, the dead letter with every attempt's error
// included.
func (j Job) CheckSize() error {
	if s := j.EventSizes(); s.Largest > s.Limit {
		return &SizeError{s}
	}
	return nil
}

// waitsForCallback reports whether a step is WAIT_FOR_CALLBACK.
func waitsForCallback(steps []json.RawMessage) bool {
	for _, raw := range steps {
		var head struct {
			Action string `json:"action"`
		}
		if bytes.Contains(raw, []byte("WAIT_FOR_CALLBACK")) && json.Unmarshal(raw, &head) == nil &&
			head.Action == "WAIT_FOR_CALLBACK" {
			return true
		}
	}
	return false
}

// separators counts the commas and colons of a JSON document outside its
// strings.
func separators(doc []byte) int {
	n := 0
	outsideStrings(doc, func(i int) bool {
		if doc[i] == ',' || doc[i] == ':' {
			n++
		}
		return true
	})
	return n
}

// outsideStrings calls f with the index of each byte of a JSON document
// that is not inside a string (quotes included), until f returns false.
func outsideStrings(doc []byte, f func(i int) bool) {
	in, esc := false, false
	for i, c := range doc {
		switch {
		case esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case !in && !f(i):
			return
		}
	}
}
