package faults

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/faulttest"
)

// recorder is a testing.TB that keeps what Check reports.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

// The invariants can fail: on a settled stack Check reports nothing; then
// each kind of breakage, made by hand, is reported.
func TestCheckReportsEveryBrokenInvariant(t *testing.T) {
	target := faulttest.NewTarget(t)
	s := startStack(t, "check", nil)
	d := faulttest.OpenDBs(t, s.Admin, s.Prefix, s.Brokers)
	jobs := faulttest.Submit(t, s.APIURL, target, "check", 6, 0)
	faulttest.Settle(t, d, s.Brokers, jobs, faulttest.Bound)
	r := &recorder{TB: t}
	faulttest.Check(r, d, target, jobs, faulttest.Tolerance{})
	if len(r.errs) > 0 {
		t.Fatalf("Check on a settled stack: %v", r.errs)
	}

	ok, dead := jobs[0], jobs[2]
	if ok.Kind.Name != "ok" || dead.Kind.Name != "dead" {
		t.Fatalf("workload kinds %s, %s", ok.Kind.Name, dead.Kind.Name)
	}
	ctx := context.Background()
	exec := func(fn, sql string, args ...any) {
		t.Helper()
		if _, err := d.Pool(fn).Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	// A finished step runs again.
	if resp, err := http.Get(target.URL + "/?token=" + ok.Token); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	// A second dead letter, a job back to RUNNING, an unsent row and a
	// published one never deleted (both left behind).
	exec("dlq", `INSERT INTO dead_letters (event_id, job_id, reason) VALUES (gen_random_uuid(), $1::uuid, 'RETRIES_EXHAUSTED')`, dead.ID)
	exec("scheduler", `UPDATE jobs SET status = 'RUNNING' WHERE id = $1::uuid`, jobs[1].ID)
	exec("worker", `INSERT INTO outbox (topic, value, headers) VALUES ('job-completed', 'x', '{"eventId":"00000000-0000-4000-8000-000000000001"}')`)
	published := faulttest.Header(faulttest.ReadTopic(t, s.Brokers, "job-completed")[0], "eventId")
	exec("worker", `INSERT INTO outbox (topic, value, headers) VALUES ('job-completed', 'x', jsonb_build_object('eventId', $1::text))`, published)

	r = &recorder{TB: t}
	faulttest.Check(r, d, target, jobs, faulttest.Tolerance{})
	report := strings.Join(r.errs, "\n")
	for _, want := range []string{
		"job " + ok.Token + " (ok): steps ran 2 times for 1 finished attempts",
		"job " + dead.Token + " (dead): 2 dead letters, want 1",
		"job " + jobs[1].Token + " (" + jobs[1].ID + ", flaky): RUNNING after 2 attempts; want COMPLETED after 2",
		"1 jobs are stuck PENDING or RUNNING",
		"worker: 2 outbox rows left (1 of them unsent)",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("Check did not report %q; it reported:\n%s", want, report)
		}
	}
}
