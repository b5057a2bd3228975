package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// sizedJob is a submission of n LOG steps and a FAIL step whose messages
// are 4,096 control characters: 24,576 bytes each as JSON.
func sizedJob(n, retries int) string {
	msg := strings.Repeat(`\u0001`, 4096)
	var steps []string
	for i := 0; i < n; i++ {
		steps = append(steps, `{"action":"LOG","message":"`+msg+`"}`)
	}
	steps = append(steps, `{"action":"FAIL","message":"`+msg+`"}`)
	return fmt.Sprintf(`{"jobType":"SIMULATION","maxRetryCount":%d,"payload":{"steps":[%s]}}`, retries, strings.Join(steps, ","))
}

// With a body limit raised past what the broker can carry, a job whose
// dead letter (all attempts' errors included) could exceed the record
// limit is refused at submit, single or in a batch, and nothing is stored.
func TestSubmitRefusesJobsWhoseEventsCouldNotFit(t *testing.T) {
	b := setup(t, Config{BodyLimit: 6 << 20})
	e := wantError(t, b.post(sizedJob(18, 20)), http.StatusRequestEntityTooLarge, CodeEventTooLarge)
	if !strings.Contains(e.Message, "job-dead-letter") || !strings.Contains(e.Message, "1000000-byte limit") || len(e.Details) != 3 {
		t.Errorf("error = %+v", e)
	}
	batch := `{"jobs":[` + sampleJob + `,` + sizedJob(18, 20) + `]}`
	e = wantError(t, b.do(http.MethodPost, "/api/jobs/batch", batch, "Content-Type", "application/json"),
		http.StatusRequestEntityTooLarge, CodeEventTooLarge)
	if !strings.HasPrefix(e.Message, "jobs[1]: ") {
		t.Errorf("batch error = %+v", e)
	}
	if n := b.count(t, `SELECT count(*) FROM jobs`); n != 0 {
		t.Fatalf("%d jobs stored; want none", n)
	}
	// The same steps with no retries fit.
	accepted(t, b.post(sizedJob(18, 0)))
}
