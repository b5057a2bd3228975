package scheduler

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/paging"
)

func TestStatusRoute(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{MaxRetries: 2})
	b.consume(t, b.svc, created) // dispatched; no worker started it yet

	rec := b.serve(t, http.MethodGet, internalapi.JobStatusPath(created.JobID), "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status = %d %s", rec.Code, rec.Body)
	}
	st := decodeJSON[internalapi.JobStatus](t, rec)
	if st.JobID != created.JobID || st.Status != internalapi.StatusRunning || st.Attempts != 1 || st.MaxRetryCount != 2 ||
		st.JobType != "SIMULATION" || st.TraceID != created.TraceID || st.CreatedAt.IsZero() || st.UpdatedAt.IsZero() ||
		st.StartedAt != nil || st.LeaseUntil != nil || st.FinishedAt != nil || st.NextRunAt != nil || len(st.Payload) == 0 {
		t.Fatalf("status = %+v", st)
	}
	// Optional fields are left out, not null.
	raw := decodeJSON[map[string]any](t, rec)
	for _, k := range []string{"finishedAt", "nextRunAt", "lastError", "lastErrorCode"} {
		if _, ok := raw[k]; ok {
			t.Errorf("%s present in %s", k, rec.Body)
		}
	}

	for _, tt := range []struct {
		id     string
		status int
		code   string
	}{
		{uuid.NewString(), http.StatusNotFound, CodeJobNotFound},
		{"42", http.StatusBadRequest, CodeInvalidRequest},
		{"{" + created.JobID + "}", http.StatusBadRequest, CodeInvalidRequest},
	} {
		rec := b.serve(t, http.MethodGet, internalapi.JobStatusPath(tt.id), "")
		if rec.Code != tt.status {
			t.Fatalf("GET %s = %d %s", tt.id, rec.Code, rec.Body)
		}
		body := decodeJSON[apierror.Body](t, rec)
		if body.ErrorCode != tt.code || body.Status != tt.status || body.TraceID != "trace-http" {
			t.Fatalf("GET %s body = %+v", tt.id, body)
		}
	}
}

func TestListRoute(t *testing.T) {
	b := setup(t, nil)
	// 25 jobs created a minute apart: 10 failed, 15 pending, 5 of them on
	// one trace.
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b.exec(t, `
		INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts, next_run_at, created_at)
		SELECT gen_random_uuid(), 'SIMULATION', '{"steps":[]}', 1,
		       CASE WHEN g <= 5 THEN 'trace-five' ELSE 'trace-' || g END,
		       CASE WHEN g % 5 IN (1, 2) THEN 'FAILED' ELSE 'PENDING' END, 0,
		       now() + interval '1 hour', $1::timestamptz + g * interval '1 minute'
		  FROM generate_series(1, 25) AS g`, base)
	// Two jobs with the same created_at: the ID breaks the tie.
	b.exec(t, `UPDATE jobs SET created_at = $1::timestamptz + interval '24 minutes' WHERE created_at = $1::timestamptz + interval '25 minutes'`, base)

	list := func(query string) paging.Page[internalapi.JobSummary] {
		t.Helper()
		rec := b.serve(t, http.MethodGet, internalapi.PathJobs+"?"+query, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET ?%s = %d %s", query, rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), `"payload"`) {
			t.Fatalf("a list item carries a payload: %.300s", rec.Body)
		}
		return decodeJSON[paging.Page[internalapi.JobSummary]](t, rec)
	}

	p := list("")
	if p.TotalElements != 25 || p.Size != 20 || p.Page != 0 || p.TotalPages != 2 || len(p.Content) != 20 {
		t.Fatalf("default page: %+v", p)
	}
	for i := 1; i < len(p.Content); i++ {
		a, c := p.Content[i-1], p.Content[i]
		if a.CreatedAt.Before(c.CreatedAt) || a.CreatedAt.Equal(c.CreatedAt) && a.JobID < c.JobID {
			t.Fatalf("not newest first at %d: %s/%s then %s/%s", i, a.CreatedAt, a.JobID, c.CreatedAt, c.JobID)
		}
	}
	// Pages are stable and cover every job once.
	seen := map[string]bool{}
	for page := 0; page < 3; page++ {
		for _, s := range list(fmt.Sprintf("page=%d&size=10", page)).Content {
			if seen[s.JobID] {
				t.Fatalf("job %s on two pages", s.JobID)
			}
			seen[s.JobID] = true
		}
	}
	if len(seen) != 25 {
		t.Fatalf("pages covered %d jobs", len(seen))
	}
	if p := list("page=9"); len(p.Content) != 0 || p.TotalElements != 25 {
		t.Fatalf("page past the end: %+v", p)
	}
	if p := list("size=1000"); p.Size != 100 || len(p.Content) != 25 {
		t.Fatalf("capped size: %+v", p)
	}
	if p := list("status=FAILED"); p.TotalElements != 10 {
		t.Fatalf("FAILED: %d", p.TotalElements)
	}
	if p := list("status=PENDING&size=5"); p.TotalElements != 15 || len(p.Content) != 5 || p.Content[0].NextRunAt == nil {
		t.Fatalf("PENDING: %+v", p)
	}
	if p := list("traceId=trace-five"); p.TotalElements != 5 {
		t.Fatalf("trace: %d", p.TotalElements)
	}
	if p := list("type=OTHER"); p.TotalElements != 0 || p.Content == nil {
		t.Fatalf("type: %+v", p)
	}
	from, to := base.Add(10*time.Minute), base.Add(20*time.Minute)
	q := url.Values{"createdFrom": {from.Format(time.RFC3339)}, "createdTo": {to.Format(time.RFC3339)}}
	if p := list(q.Encode()); p.TotalElements != 11 {
		t.Fatalf("created in [10m, 20m]: %d", p.TotalElements)
	}
	q.Set("status", "FAILED")
	if p := list(q.Encode()); p.TotalElements != 4 {
		t.Fatalf("FAILED created in [10m, 20m]: %d", p.TotalElements)
	}

	for _, bad := range []string{"status=DONE", "createdFrom=yesterday", "createdTo=2026-13-01T00:00:00Z", "page=-1", "size=0"} {
		rec := b.serve(t, http.MethodGet, internalapi.PathJobs+"?"+bad, "")
		if rec.Code != http.StatusBadRequest || decodeJSON[apierror.Body](t, rec).ErrorCode != CodeInvalidRequest {
			t.Fatalf("GET ?%s = %d %s", bad, rec.Code, rec.Body)
		}
	}

	// Cursors: the same order as pages, every job once, from any filter.
	for _, filter := range []string{"", "status=PENDING&", "traceId=trace-five&", q.Encode() + "&"} {
		want := list(filter + "size=100")
		var got []string
		cursor := ""
		for round := 0; ; round++ {
			query := filter + "size=4"
			if cursor != "" {
				query += "&cursor=" + url.QueryEscape(cursor)
			}
			p := list(query)
			if p.TotalElements != want.TotalElements || p.TotalIsEstimate {
				t.Fatalf("%s: total %d (estimate %v), want %d", query, p.TotalElements, p.TotalIsEstimate, want.TotalElements)
			}
			for _, j := range p.Content {
				got = append(got, j.JobID)
			}
			if p.NextCursor == "" {
				break
			}
			if len(p.Content) != 4 || round > 10 {
				t.Fatalf("%s: %d items with a next cursor", query, len(p.Content))
			}
			cursor = p.NextCursor
		}
		if len(got) != len(want.Content) {
			t.Fatalf("%s: cursors walked %d jobs, want %d", filter, len(got), len(want.Content))
		}
		for i, j := range want.Content {
			if got[i] != j.JobID {
				t.Fatalf("%s: item %d is %s by cursor, %s by page", filter, i, got[i], j.JobID)
			}
		}
	}
	// A page also says where the next one starts; the last page does not.
	if p := list("page=0&size=10"); p.NextCursor == "" {
		t.Fatalf("first page without nextCursor: %+v", p)
	}
	if p := list("page=2&size=10"); p.NextCursor != "" || len(p.Content) != 5 {
		t.Fatalf("last page: %+v", p)
	}
	for _, bad := range []string{"cursor=nope", "cursor=" + url.QueryEscape(paging.Cursor{Time: base, ID: uuid.NewString()}.Encode()) + "&page=1",
		"cursor=" + strings.Repeat("A", 200), "cursor=djE6MTIzOm5vdC1hLXV1aWQ"} {
		rec := b.serve(t, http.MethodGet, internalapi.PathJobs+"?"+bad, "")
		if rec.Code != http.StatusBadRequest || decodeJSON[apierror.Body](t, rec).ErrorCode != "SCHEDULER.INVALID_CURSOR" {
			t.Fatalf("GET ?%s = %d %s", bad, rec.Code, rec.Body)
		}
	}

	// A long last error is cut in the list, whole in the status route.
	long := strings.Repeat("é", MaxListErrorLen+10)
	b.exec(t, `UPDATE jobs SET last_error = $1 WHERE trace_id = 'trace-five'`, long)
	for _, j := range list("traceId=trace-five").Content {
		if !j.Truncated || j.LastError != long[:2*MaxListErrorLen] {
			t.Fatalf("list item: truncated %v, %d bytes of error", j.Truncated, len(j.LastError))
		}
		rec := b.serve(t, http.MethodGet, internalapi.JobStatusPath(j.JobID), "")
		if st := decodeJSON[internalapi.JobStatus](t, rec); st.LastError != long || len(st.Payload) == 0 {
			t.Fatalf("status route: %d bytes of error, payload %s", len(st.LastError), st.Payload)
		}
	}
}

// TestListCountsBeyondTheCap: past paging.CountCap matching rows, the
// total is the planner's estimate, marked as one; below it, exact.
func TestListCountsBeyondTheCap(t *testing.T) {
	b := setup(t, nil)
	n := paging.CountCap + 500
	b.exec(t, `
		INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts, next_run_at, created_at)
		SELECT gen_random_uuid(), 'SIMULATION', '{"steps":[]}', 1, 'trace-' || (g % 1000),
		       CASE WHEN g % 100 = 0 THEN 'FAILED' ELSE 'COMPLETED' END, 1, now(), now() - g * interval '1 second'
		  FROM generate_series(1, $1::int) AS g`, n)
	b.exec(t, `ANALYZE jobs`)
	rec := b.serve(t, http.MethodGet, internalapi.PathJobs+"?size=10", "")
	p := decodeJSON[paging.Page[internalapi.JobSummary]](t, rec)
	if !p.TotalIsEstimate || p.TotalElements <= int64(paging.CountCap) || len(p.Content) != 10 || p.NextCursor == "" {
		t.Fatalf("unfiltered: total %d estimate %v, %d items, next %q", p.TotalElements, p.TotalIsEstimate, len(p.Content), p.NextCursor)
	}
	if !strings.Contains(rec.Body.String(), `"totalIsEstimate":true`) {
		t.Fatalf("body does not mark the estimate: %.200s", rec.Body)
	}
	p = decodeJSON[paging.Page[internalapi.JobSummary]](t, b.serve(t, http.MethodGet, internalapi.PathJobs+"?status=FAILED&size=10", ""))
	if p.TotalIsEstimate || p.TotalElements != int64(n/100) {
		t.Fatalf("FAILED: total %d estimate %v, want exactly %d", p.TotalElements, p.TotalIsEstimate, n/100)
	}
	rec = b.serve(t, http.MethodGet, internalapi.PathJobs+"?status=FAILED&size=10", "")
	if strings.Contains(rec.Body.String(), "totalIsEstimate") {
		t.Fatalf("an exact count is marked: %.200s", rec.Body)
	}
	// The filters and the cursor read through the list indexes.
	for _, c := range []struct{ query, index string }{
		{`SELECT id FROM jobs WHERE status = 'FAILED' ORDER BY created_at DESC, id DESC LIMIT 21`, "jobs_status_created_idx"},
		{`SELECT id FROM jobs WHERE trace_id = 'trace-7' ORDER BY created_at DESC, id DESC LIMIT 21`, "jobs_trace_created_idx"},
		{`SELECT id FROM jobs WHERE (created_at, id) < (now() - interval '1 hour', gen_random_uuid()) ORDER BY created_at DESC, id DESC LIMIT 21`, "jobs_created_idx"},
	} {
		var plan string
		rows, err := b.pool.Query(context.Background(), `EXPLAIN `+c.query)
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
		if !strings.Contains(plan, c.index) {
			t.Errorf("%s does not use %s:\n%s", c.query, c.index, plan)
		}
	}
}

func TestHealthAndUnknownRoutes(t *testing.T) {
	b := setup(t, nil)
	for _, p := range []string{"/health", "/actuator/health"} {
		if rec := b.serve(t, http.MethodGet, p, ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"UP"`) {
			t.Fatalf("%s = %d %s", p, rec.Code, rec.Body)
		}
	}
	for _, tt := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/internal/nothing", http.StatusNotFound, CodeRouteNotFound},
		{http.MethodDelete, internalapi.JobStatusPath(uuid.NewString()), http.StatusMethodNotAllowed, CodeMethodNotAllowed},
		{http.MethodGet, internalapi.JobCancelPath(uuid.NewString()), http.StatusMethodNotAllowed, CodeMethodNotAllowed},
	} {
		rec := b.serve(t, tt.method, tt.path, "")
		if rec.Code != tt.status || decodeJSON[apierror.Body](t, rec).ErrorCode != tt.code {
			t.Fatalf("%s %s = %d %s", tt.method, tt.path, rec.Code, rec.Body)
		}
		if tt.status == http.StatusMethodNotAllowed && rec.Header().Get("Allow") == "" {
			t.Fatalf("%s %s: no Allow header", tt.method, tt.path)
		}
	}
	// The health answers for the database: DOWN when it does not answer.
	b.svc.pool.Close()
	if rec := b.serve(t, http.MethodGet, "/health", ""); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"DOWN"`) {
		t.Fatalf("/health with the pool closed = %d %s", rec.Code, rec.Body)
	}
}
