package api

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// The api shows the scheduler's status JSON, as internalapi.JobStatus
// carries it over the wire, field by field: empty values are null.
func TestStatusViewShowsTheSchedulerStatus(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2024, 5, 1, 12, 0, s, 0, time.UTC) }
	started, finished, next := at(1), at(5), at(9)
	full := internalapi.JobStatus{
		JobID: "j1", JobType: "SIMULATION", Payload: json.RawMessage(`{"steps":[]}`), MaxRetryCount: 3, TraceID: "t1",
		Status: internalapi.StatusFailed, Attempts: 2, LastError: "boom", LastErrorCode: "WORKER.STEP_FAILED",
		CreatedAt: at(0), StartedAt: &started, FinishedAt: &finished, UpdatedAt: at(6), NextRunAt: &next,
		LeaseUntil: &finished, Version: 7, CreatedBy: "key-1",
	}
	boom, code := "boom", "WORKER.STEP_FAILED"
	for _, c := range []struct {
		name    string
		in      internalapi.JobStatus
		want    JobView
		version int
	}{
		{"every field", full, JobView{
			JobID: "j1", JobType: "SIMULATION", Payload: json.RawMessage(`{"steps":[]}`), MaxRetryCount: 3, TraceID: "t1",
			Status: internalapi.StatusFailed, Attempts: 2, LastError: &boom, LastErrorCode: &code,
			CreatedAt: at(0), StartedAt: &started, FinishedAt: &finished, UpdatedAt: at(6), NextRunAt: &next, CreatedBy: "key-1",
		}, 7},
		{"empty values are null", internalapi.JobStatus{JobID: "j2", Status: internalapi.StatusPending, CreatedAt: at(0), UpdatedAt: at(0)},
			JobView{JobID: "j2", Payload: json.RawMessage("null"), Status: internalapi.StatusPending, CreatedAt: at(0), UpdatedAt: at(0), CreatedBy: "anonymous"}, 0},
	} {
		b, err := json.Marshal(c.in)
		if err != nil {
			t.Fatal(err)
		}
		var j internalapi.JobStatus
		if err := json.Unmarshal(b, &j); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := statusView(j); !reflect.DeepEqual(got, c.want) || j.Version != c.version {
			t.Errorf("%s: %s reads as\n%+v, version %d; want\n%+v, version %d", c.name, b, got, j.Version, c.want, c.version)
		}
	}
}
