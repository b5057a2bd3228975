package jobspec_test

import (
	"testing"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/jobspec"
)

// A pipeline with a WAIT_FOR_CALLBACK step has run-jobs that may carry the
// largest callback body: its size check counts it.
func TestRunJobAllowsForTheCallbackBody(t *testing.T) {
	t.Parallel()
	decode := func(steps string) jobspec.EventSizes {
		t.Helper()
		j, err := jobspec.Decode([]byte(`{"jobType":"DATA_PIPELINE","payload":{"steps":[`+steps+`]}}`), jobspec.Default)
		if err != nil {
			t.Fatal(err)
		}
		return j.EventSizes()
	}
	plain := decode(`{"action":"LOG","message":"WAIT_FOR_CALLBACK"},{"id":"a","action":"LOG","message":"x"}`)
	waits := decode(`{"action":"LOG","message":"WAIT_FOR_CALLBACK"},{"id":"a","action":"WAIT_FOR_CALLBACK"}`)
	if plain.RunJob-plain.Payload != waits.RunJob-waits.Payload-envelope.CallbackBytes {
		t.Fatalf("run-job allowance: %d without a wait, %d with one; want a difference of %d",
			plain.RunJob-plain.Payload, waits.RunJob-waits.Payload, envelope.CallbackBytes)
	}
	if _, err := jobspec.Decode([]byte(`{"jobType":"SIMULATION","payload":{"steps":[{"action":"WAIT_FOR_CALLBACK"}]}}`), jobspec.Default); err == nil {
		t.Fatal("SIMULATION accepts WAIT_FOR_CALLBACK")
	}
}
