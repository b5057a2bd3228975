package scheduler

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// TestStats: GET /internal/stats reports the due backlog and its oldest
// age, the running jobs, the last hour's finished attempts minute by
// minute, and the outbox, from the fixture's state.
func TestStats(t *testing.T) {
	b := setup(t, nil)
	fixture, err := os.ReadFile("testdata/stats.sql")
	if err != nil {
		t.Fatal(err)
	}
	b.exec(t, string(fixture))
	var fiveAgo, thirtyAgo time.Time
	if err := b.pool.QueryRow(b.ctx, `SELECT date_trunc('minute', now() - interval '5 minutes'),
		date_trunc('minute', now() - interval '30 minutes')`).Scan(&fiveAgo, &thirtyAgo); err != nil {
		t.Fatal(err)
	}

	rec := b.serve(t, http.MethodGet, internalapi.PathStats, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", internalapi.PathStats, rec.Code, rec.Body)
	}
	st := decodeJSON[internalapi.SchedulerStats](t, rec)
	if st.Due.Count != 3 || st.Due.OldestAgeSeconds < 120 || st.Due.OldestAgeSeconds > 180 {
		t.Errorf("due = %+v, want 3 jobs, the oldest 120 s (give or take the test's run)", st.Due)
	}
	if st.Running.Count != 2 {
		t.Errorf("running = %d, want 2", st.Running.Count)
	}
	if st.Outbox != (internalapi.OutboxStats{Pending: 2, Parked: 1}) {
		t.Errorf("outbox = %+v, want 2 pending, 1 parked", st.Outbox)
	}

	tp := st.Throughput
	if tp.BucketSeconds != 60 || len(tp.Points) != 60 {
		t.Fatalf("throughput: %d s buckets, %d points; want 60 and 60", tp.BucketSeconds, len(tp.Points))
	}
	last := tp.Points[len(tp.Points)-1].At
	if d := time.Since(last); d < 0 || d >= 2*time.Minute || last.Second() != 0 || last.Location() != time.UTC {
		t.Errorf("the last point is at %s: want the current minute, in UTC", last)
	}
	byMinute := map[time.Time]internalapi.ThroughputPoint{}
	var completed, failed int64
	for i, p := range tp.Points {
		if i > 0 && !p.At.Equal(tp.Points[i-1].At.Add(time.Minute)) {
			t.Fatalf("point %d at %s follows %s: want one a minute, oldest first", i, p.At, tp.Points[i-1].At)
		}
		byMinute[p.At.UTC()] = p
		completed += p.Completed
		failed += p.Failed
	}
	if p := byMinute[fiveAgo.UTC()]; p.Completed != 2 || p.Failed != 2 {
		t.Errorf("five minutes ago: %+v, want 2 completed and 2 failed (a failure and a lease expiry; not the cancel)", p)
	}
	if p := byMinute[thirtyAgo.UTC()]; p.Completed != 0 || p.Failed != 1 {
		t.Errorf("30 minutes ago: %+v, want 1 failed", p)
	}
	if completed != 2 || failed != 3 {
		t.Errorf("the hour holds %d completed and %d failed; want 2 and 3 (nothing from 90 minutes ago)", completed, failed)
	}
}

// TestStatsEmpty: an empty database still gives 60 points of zeros.
func TestStatsEmpty(t *testing.T) {
	b := setup(t, nil)
	st, err := b.svc.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Throughput.Points) != 60 || st.Due != (internalapi.DueStats{}) || st.Running.Count != 0 || st.Outbox != (internalapi.OutboxStats{}) {
		t.Fatalf("empty stats = %+v", st)
	}
	for _, p := range st.Throughput.Points {
		if p.Completed != 0 || p.Failed != 0 {
			t.Fatalf("point %+v in an empty database", p)
		}
	}
}

// TestThroughputReadsTheIndex: with many old attempts, the throughput
// query reads job_attempts_finished_idx (migration 00008), not the table.
func TestThroughputReadsTheIndex(t *testing.T) {
	b := setup(t, nil)
	b.exec(t, `
		INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts, next_run_at, created_at)
		SELECT gen_random_uuid(), 'SIMULATION', '{}', 1, 't', 'COMPLETED', 1, now(), now()
		  FROM generate_series(1, 20000)`)
	b.exec(t, `
		INSERT INTO job_attempts (job_id, attempt, dispatched_at, finished_at, outcome)
		SELECT id, 1, now(), now() - interval '2 days' + (random() * interval '1 day'), 'COMPLETED' FROM jobs`)
	b.exec(t, `ANALYZE job_attempts`)
	rows, err := b.pool.Query(b.ctx, `EXPLAIN `+strings.ReplaceAll(throughputQuery, "$1::timestamptz", "(date_trunc('minute', now()) - interval '59 minutes')"))
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if !strings.Contains(plan.String(), "job_attempts_finished_idx") || strings.Contains(plan.String(), "Seq Scan on job_attempts") {
		t.Errorf("the throughput query does not read job_attempts_finished_idx alone:\n%s", plan.String())
	}
}

// TestThroughputReusesSettledMinutes: a second read counts only the
// minutes that may still change; a settled minute's count is reused (an
// attempt written into it afterwards, which a real outcome never is, does
// not show), while the current minute's new attempts do.
func TestThroughputReusesSettledMinutes(t *testing.T) {
	b := setup(t, nil)
	b.exec(t, `INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts, next_run_at, created_at)
		VALUES ('00000000-0000-7000-8000-0000000000aa', 'SIMULATION', '{}', 3, 't', 'RUNNING', 3, now(), now())`)
	b.exec(t, `INSERT INTO job_attempts (job_id, attempt, dispatched_at, finished_at, outcome)
		VALUES ('00000000-0000-7000-8000-0000000000aa', 1, now(), now() - interval '10 minutes', 'FAILED')`)
	sum := func() (failed, completed int64) {
		t.Helper()
		st, err := b.svc.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Throughput.Points) != 60 {
			t.Fatalf("%d points", len(st.Throughput.Points))
		}
		for _, p := range st.Throughput.Points {
			failed += p.Failed
			completed += p.Completed
		}
		return failed, completed
	}
	if f, c := sum(); f != 1 || c != 0 {
		t.Fatalf("first read: %d failed, %d completed; want 1 and 0", f, c)
	}
	b.exec(t, `INSERT INTO job_attempts (job_id, attempt, dispatched_at, finished_at, outcome) VALUES
		('00000000-0000-7000-8000-0000000000aa', 2, now(), now() - interval '10 minutes', 'FAILED'),
		('00000000-0000-7000-8000-0000000000aa', 3, now(), now(), 'COMPLETED')`)
	if f, c := sum(); f != 1 || c != 1 {
		t.Fatalf("second read: %d failed, %d completed; want the settled minute's 1 reused and the current minute's 1 completed", f, c)
	}
	// Another service (a cold instance) counts everything.
	if st, err := b.service(t, nil).Stats(context.Background()); err != nil {
		t.Fatal(err)
	} else {
		var f int64
		for _, p := range st.Throughput.Points {
			f += p.Failed
		}
		if f != 2 {
			t.Fatalf("a fresh instance counts %d failed, want 2", f)
		}
	}
}
