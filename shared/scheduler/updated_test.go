package scheduler

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/internalapi"
)

func TestAsOf(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	o := UpdatedSinceOverlap
	for _, tt := range []struct {
		name  string
		since time.Time
		empty bool
		want  time.Time
	}{
		{"changes listed: now less the overlap", now.Add(-time.Hour), false, now.Add(-o)},
		{"idle: the same updatedSince again", now.Add(-o - 10*time.Second), true, now.Add(-o - 10*time.Second)},
		{"idle, updatedSince at the overlap", now.Add(-o), true, now.Add(-o)},
		{"idle too long: moves on", now.Add(-o - asOfHold), true, now.Add(-o)},
		{"updatedSince in the future: never past the overlap", now.Add(time.Hour), true, now.Add(-o)},
		{"recent changes listed", now.Add(-time.Second), false, now.Add(-o)},
	} {
		if got := asOf(now, tt.since, tt.empty); !got.Equal(tt.want) {
			t.Errorf("%s: asOf = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// updatedSince lists the jobs updated at or after it, newest update
// first, with the other filters, page by page, and an asOf that repeats
// it while nothing changes; it reads through jobs_updated_idx at 100,000
// jobs.
func TestListUpdatedSince(t *testing.T) {
	b := setup(t, nil)
	base := time.Now().UTC()
	// 100,000 jobs updated a second apart until an hour ago; 30 in the
	// last 30 seconds, every third FAILED.
	b.exec(t, `
		INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts, next_run_at, created_at, updated_at)
		SELECT gen_random_uuid(), 'SIMULATION', '{"steps":[]}', 1, 'trace-old', 'COMPLETED', 1, now(),
		       now() - interval '3 days', now() - interval '1 hour' - g * interval '1 second'
		  FROM generate_series(1, 100000) AS g`)
	b.exec(t, `
		INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts, next_run_at, created_at, updated_at)
		SELECT gen_random_uuid(), 'SIMULATION', '{"steps":[]}', 1, 'trace-new',
		       CASE WHEN g % 3 = 0 THEN 'FAILED' ELSE 'COMPLETED' END, 1, now(),
		       now() - interval '1 day' + g * interval '1 second', $1::timestamptz - g * interval '1 second'
		  FROM generate_series(1, 30) AS g`, base)
	b.exec(t, `ANALYZE jobs`)

	since := base.Add(-30500 * time.Millisecond).Format(time.RFC3339Nano)
	list := func(query string) internalapi.JobPage {
		t.Helper()
		rec := b.serve(t, http.MethodGet, internalapi.PathJobs+"?"+query, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET ?%s = %d %s", query, rec.Code, rec.Body)
		}
		return decodeJSON[internalapi.JobPage](t, rec)
	}
	var seen []internalapi.JobSummary
	cursor := ""
	for range 10 {
		q := url.Values{"updatedSince": {since}, "size": {"7"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		p := list(q.Encode())
		if p.AsOf == nil || p.TotalElements != 30 {
			t.Fatalf("page: asOf %v, total %d; want asOf and 30", p.AsOf, p.TotalElements)
		}
		seen = append(seen, p.Content...)
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 30 {
		t.Fatalf("listed %d jobs; want the 30 recent ones", len(seen))
	}
	for i, j := range seen {
		if j.TraceID != "trace-new" || (i > 0 && j.UpdatedAt.After(seen[i-1].UpdatedAt)) {
			t.Fatalf("item %d: %+v; want recent jobs, newest update first", i, j)
		}
	}
	if p := list("updatedSince=" + url.QueryEscape(since) + "&status=FAILED&size=100"); len(p.Content) != 10 || p.TotalElements != 10 {
		t.Fatalf("FAILED since: %d items, total %d; want 10", len(p.Content), p.TotalElements)
	}
	// Without updatedSince: no asOf, created order as before.
	if rec := b.serve(t, http.MethodGet, internalapi.PathJobs+"?size=1", ""); strings.Contains(rec.Body.String(), "asOf") {
		t.Fatalf("a list without updatedSince has asOf: %s", rec.Body)
	}
	// Nothing changed since: the same answer twice, asOf = updatedSince.
	quiet := time.Now().Add(-UpdatedSinceOverlap - time.Second).UTC().Truncate(time.Microsecond)
	b.exec(t, `UPDATE jobs SET updated_at = $1::timestamptz - interval '1 second' WHERE updated_at >= $1`, quiet)
	q := "updatedSince=" + url.QueryEscape(quiet.Format(time.RFC3339Nano))
	one := b.serve(t, http.MethodGet, internalapi.PathJobs+"?"+q, "").Body.String()
	two := b.serve(t, http.MethodGet, internalapi.PathJobs+"?"+q, "").Body.String()
	if p := list(q); one != two || len(p.Content) != 0 || p.AsOf == nil || !p.AsOf.Equal(quiet) {
		t.Fatalf("idle polls: %s then %s; want the same, with asOf %v", one, two, quiet)
	}
	for _, bad := range []string{"updatedSince=yesterday", "updatedSince=2026-13-01T00:00:00Z"} {
		if rec := b.serve(t, http.MethodGet, internalapi.PathJobs+"?"+bad, ""); rec.Code != http.StatusBadRequest {
			t.Errorf("?%s = %d", bad, rec.Code)
		}
	}

	// The page's IDs and the count come from jobs_updated_idx, not a scan
	// of 100,000 rows; with a filter, from it or the filter's own index.
	for _, c := range []struct{ query, index string }{
		{`SELECT id FROM jobs WHERE updated_at >= now() - interval '30 seconds' ORDER BY updated_at DESC, id DESC LIMIT 21`, "jobs_updated_idx"},
		{`SELECT 1 FROM jobs WHERE updated_at >= now() - interval '30 seconds' LIMIT 10001`, "jobs_updated_idx"},
		{`SELECT id FROM jobs WHERE updated_at >= now() - interval '30 seconds' AND status = 'FAILED' ORDER BY updated_at DESC, id DESC LIMIT 21`, "Index"},
		{`SELECT id FROM jobs WHERE updated_at >= now() - interval '30 seconds' AND trace_id = 'trace-old' ORDER BY updated_at DESC, id DESC LIMIT 21`, "Index"},
	} {
		query := c.query
		var plan string
		rows, err := b.pool.Query(context.Background(), `EXPLAIN `+query)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan += line + "\n"
		}
		if !strings.Contains(plan, c.index) || strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s does not read through %s:\n%s", query, c.index, plan)
		}
	}
}
