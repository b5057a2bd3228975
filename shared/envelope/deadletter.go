package envelope

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Trimmed says what was cut out of a dead letter so that its event fits
// the broker's record limit. A dead letter is never left unpublished for
// its size: it goes out trimmed, and the dlq entry shows this marker.
type Trimmed struct {
	// AttemptErrors lists the attempts (1-based numbers) whose error text
	// was dropped: the middle ones first, the first and last kept longest.
	AttemptErrors []int `json:"attemptErrors,omitempty"`
	// PayloadBytes is the encoded size of the job's payload, left out
	// (the entry cannot be retried from the dlq; submit the job again).
	PayloadBytes int `json:"payloadBytes,omitempty"`
	// SourceValueBytes is how much of a poison record's value was cut.
	SourceValueBytes int `json:"sourceValueBytes,omitempty"`
	// LastErrorBytes is how much of lastError was cut.
	LastErrorBytes int `json:"lastErrorBytes,omitempty"`
	// LimitBytes is the event size the dead letter had to fit.
	LimitBytes int `json:"limitBytes"`
}

// NewDeadLetter builds a JobDeadLetter event like [New], trimmed to fit
// maxBytes once encoded (see [JobDeadLetter.Fit]).
func NewDeadLetter(traceID, jobID string, dl JobDeadLetter, maxBytes int) (Envelope, error) {
	e, err := New(TypeJobDeadLetter, traceID, jobID, dl)
	if err != nil || len(e.Marshal()) <= maxBytes {
		return e, err
	}
	// What the envelope adds around the payload, whatever its time (the
	// longest RFC 3339 time is 35 bytes): the same for every build of
	// this dead letter, so a rebuild trims it the same way.
	bare := e
	bare.Time, bare.Payload = time.Time{}, json.RawMessage("0")
	overhead := len(bare.Marshal()) - 1 + 35
	if !dl.Fit(maxBytes - overhead) {
		return Envelope{}, fmt.Errorf("envelope: a dead letter cannot be trimmed to %d bytes", maxBytes)
	}
	if dl.Trimmed != nil {
		dl.Trimmed.LimitBytes = maxBytes
	}
	p, err := JSON(dl)
	if err != nil {
		return Envelope{}, err
	}
	e.Payload = p
	return e, nil
}

// Fit trims dl until it encodes in at most maxBytes, recording what it
// cut in dl.Trimmed. It cuts, in this order, until the dead letter fits:
// the error texts of the middle attempts, the job's payload, a poison
// record's value (to what fits), the last error (to what fits), and the
// first and last attempts' errors. It reports whether dl fits.
func (dl *JobDeadLetter) Fit(maxBytes int) bool {
	size := func() int { b, _ := JSON(dl); return len(b) }
	if size() <= maxBytes {
		return true
	}
	t := &Trimmed{LimitBytes: maxBytes}
	dl.Trimmed = t
	cutAttempt := func(i int) {
		if dl.Attempts[i].Error != "" {
			dl.Attempts[i].Error = ""
			t.AttemptErrors = append(t.AttemptErrors, dl.Attempts[i].Attempt)
		}
	}
	// The middle attempts, from the centre outwards.
	if n := len(dl.Attempts); n > 2 {
		mid := n / 2
		for d := 0; d < n; d++ {
			for _, i := range []int{mid - d, mid + d} {
				if i >= 1 && i <= n-2 {
					cutAttempt(i)
				}
			}
			if size() <= maxBytes {
				return true
			}
		}
	}
	if len(dl.Payload) > 0 && string(dl.Payload) != "null" {
		t.PayloadBytes = len(dl.Payload)
		dl.Payload = nil
		if size() <= maxBytes {
			return true
		}
	}
	// Cutting a string makes the marker's count longer: cut with a margin,
	// and once more if that was not enough.
	cut := func(s *string, n *int) bool {
		for i := 0; i < 3 && *s != ""; i++ {
			over := size() - maxBytes
			if over <= 0 {
				return true
			}
			*n += cutString(s, over+64)
		}
		return size() <= maxBytes
	}
	if dl.Source != nil && cut(&dl.Source.Value, &t.SourceValueBytes) {
		return true
	}
	if cut(&dl.LastError, &t.LastErrorBytes) {
		return true
	}
	for i := range dl.Attempts {
		cutAttempt(i)
	}
	return size() <= maxBytes
}

// cutString shortens *s by at least over encoded bytes, at a rune
// boundary, and returns how many bytes it removed. An encoded byte is at
// most six bytes of JSON (\u0001), so cutting over raw bytes from the end
// removes at least over encoded ones.
func cutString(s *string, over int) int {
	keep := len(*s) - over
	if keep <= 0 {
		n := len(*s)
		*s = ""
		return n
	}
	for keep > 0 && !utf8.RuneStart((*s)[keep]) {
		keep--
	}
	n := len(*s) - keep
	*s = (*s)[:keep]
	return n
}

// EncodedStringBound is the most bytes a string of n bytes takes once
// JSON-encoded by [JSON], quotes included: every byte may become a
// six-byte \u00XX escape (a control character, or an invalid byte that
// becomes \ufffd).
func EncodedStringBound(n int) int { return 6*n + 2 }
