package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/stacktest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// lessThan is a step of 4,096 '<': six bytes each once HTML-escaped.
func lessThan(action string) string {
	return fmt.Sprintf(`{"action":%q,"message":%q}`, action, strings.Repeat("<", 4096))
}

// The request that wedged the pipeline (issue 8): a 171 KB job with no
// retries whose dead letter, HTML-escaped, grew past the broker's 1 MiB.
// It now fails into the DLQ with a dead letter of its own size, and the
// jobs around it, and a 256 KB job of 62 such LOG steps, complete.
func TestJobsOfManyAngleBracketsReachTheirEnd(t *testing.T) {
	s := startStack(t, nil)
	var steps []string
	for i := 0; i < 40; i++ {
		steps = append(steps, lessThan("LOG"))
	}
	steps = append(steps, lessThan("FAIL"), lessThan("LOG"))
	wedge := stacktest.JobJSON(strings.Join(steps, ","), 0)
	if n := len(wedge); n < 170_000 || n > 180_000 {
		t.Fatalf("the job is %d bytes; want the issue's 171 KB", n)
	}
	var logs []string
	for i := 0; i < 62; i++ {
		logs = append(logs, lessThan("LOG"))
	}
	big := stacktest.JobJSON(strings.Join(logs, ","), 0)
	if n := len(big); n < 255_000 || n > 262_144 {
		t.Fatalf("the LOG job is %d bytes; want about 256 KB, under the body limit", n)
	}

	wedgeID := s.Submit(t, wedge)
	bigID := s.Submit(t, big)
	var others []string
	for i := 0; i < 6; i++ {
		others = append(others, s.Submit(t, stacktest.JobJSON(`{"action":"LOG","message":"<after>"}`, 0)))
	}
	s.WaitStatus(t, wedgeID, "FAILED")
	s.WaitStatus(t, bigID, "COMPLETED")
	for _, id := range others {
		s.WaitStatus(t, id, "COMPLETED")
	}
	e := s.WaitDeadLetter(t, "the wedge job's dead letter", func(e map[string]any) bool { return e["jobId"] == wedgeID })
	if e["reason"] != "RETRIES_EXHAUSTED" || e["trimmed"] != nil {
		t.Errorf("dead letter = reason %v, trimmed %v", e["reason"], e["trimmed"])
	}
	job, _ := e["job"].(map[string]any)
	payload, _ := job["payload"].(map[string]any)
	if got, _ := payload["steps"].([]any); len(got) != 42 {
		t.Fatalf("dead letter job carries %d steps; want 42", len(got))
	}

	// On the broker, the dead letter is about the job's size, not six times it.
	for _, r := range kafkatest.ReadAll(t, s.Brokers, envelope.TopicJobDeadLetter, 1, 30*time.Second) {
		if string(r.Key) != wedgeID {
			continue
		}
		if n := len(r.Value); n > 200_000 || strings.Contains(string(r.Value), `\u003c`) {
			t.Errorf("dead-letter record is %d bytes (HTML-escaped: %v); want under 200,000, unescaped", n, strings.Contains(string(r.Value), `\u003c`))
		}
	}
}

// A stack starts and serves on data that holds an event the broker can
// never take (here 1.1 MB rows in the scheduler's outbox, as a stack from
// before the size checks could leave): the relay parks them, an
// OUTBOX_PARKED dead letter names the run-job one, and new jobs complete.
func TestStackStartsOnAnUnpublishableOutboxRow(t *testing.T) {
	cfg := stacktest.Config(t, "e2e", stackVars)
	first := stacktest.Start(t, cfg)
	first.Close()

	ctx := context.Background()
	jobID := "0b8d5c7e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"
	huge := strings.Repeat("x", 1_100_000)
	runJob, err := envelope.New(envelope.TypeRunJob, "trace-huge", jobID, envelope.RunJob{
		JobSpec: envelope.JobSpec{JobType: "SIMULATION", Payload: []byte(`{"steps":[{"action":"LOG","message":"` + huge + `"}]}`)}, Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	deadLetter, err := envelope.New(envelope.TypeJobDeadLetter, "trace-huge", jobID, envelope.JobDeadLetter{
		Reason: "RETRIES_EXHAUSTED", LastError: huge, Attempts: []envelope.AttemptSummary{}})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := first.DBs["scheduler"].Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := outbox.Add(ctx, tx, runJob, deadLetter); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	s := &stack{stacktest.Start(t, cfg)}
	id := s.Submit(t, stacktest.JobJSON(`{"action":"LOG","message":"after the restart"}`, 0))
	s.WaitStatus(t, id, "COMPLETED")
	testwait.Eventually(t, stacktest.Bound, "both rows parked", func() bool {
		return s.Count(t, "scheduler", `SELECT count(*) FROM outbox_parked`) == 2 &&
			s.Count(t, "scheduler", `SELECT count(*) FROM outbox`) == 0
	})
	e := s.WaitDeadLetter(t, "the OUTBOX_PARKED entry", func(e map[string]any) bool { return e["reason"] == outbox.ReasonParked })
	p, _ := e["parked"].(map[string]any)
	if p["eventId"] != runJob.EventID || p["topic"] != envelope.TopicRunJob || p["service"] != "scheduler" || e["jobId"] != jobID {
		t.Errorf("parked entry = %v", e)
	}
	if n := len(s.DeadLetters(t)); n != 1 {
		t.Errorf("%d dlq entries; want 1 (the parked dead letter makes none)", n)
	}
	if r := s.Do(t, http.MethodGet, "/api/dlq/"+e["id"].(string), ""); r.Status != http.StatusOK {
		t.Errorf("GET the entry = %d", r.Status)
	}
}
