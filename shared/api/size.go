package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/jobspec"
)

// CodeEventTooLarge answers a submission whose events could, at worst,
// exceed the broker's record limit (jobspec.Job.CheckSize).
const CodeEventTooLarge = "API.EVENT_TOO_LARGE"

// checkSize refuses job, the job at index (or -1 for a single), with 413
// API.EVENT_TOO_LARGE if one of its events could not fit the broker.
func checkSize(job jobspec.Job, index int) error {
	var se *jobspec.SizeError
	if err := job.CheckSize(); !errors.As(err, &se) {
		return err
	}
	msg := se.Error()
	if index >= 0 {
		msg = fmt.Sprintf("jobs[%d]: %s (nothing was stored)", index, msg)
	}
	e := apierror.New(http.StatusRequestEntityTooLarge, CodeEventTooLarge, msg)
	e.Details = []string{
		fmt.Sprintf("limitBytes: %d", se.Limit),
		fmt.Sprintf("largestEvent: %s, up to %d bytes", se.LargestEvent, se.Largest),
		fmt.Sprintf("payloadBytes: %d", se.Payload),
	}
	return e
}
