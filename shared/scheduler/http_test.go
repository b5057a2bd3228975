package scheduler

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/paging"
)

func TestStatusRoute(t *testing.T) {
	b := setup(t, nil)
	created := newJobCreated(t, jobOpts{MaxRetries: 2})
	b.consume(t, b.svc, created) // dispatched; no worker started it yet

	rec := b.serve(t, http.MethodGet, JobStatusPath(created.JobID), "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status = %d %s", rec.Code, rec.Body)
	}
	st := decodeJSON[JobStatus](t, rec)
	if st.JobID != created.JobID || st.Status != StatusRunning || st.Attempts != 1 || st.MaxRetryCount != 2 ||
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
		rec := b.serve(t, http.MethodGet, JobStatusPath(tt.id), "")
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

	list := func(query string) paging.Page[JobStatus] {
		t.Helper()
		rec := b.serve(t, http.MethodGet, PathJobs+"?"+query, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET ?%s = %d %s", query, rec.Code, rec.Body)
		}
		return decodeJSON[paging.Page[JobStatus]](t, rec)
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
		rec := b.serve(t, http.MethodGet, PathJobs+"?"+bad, "")
		if rec.Code != http.StatusBadRequest || decodeJSON[apierror.Body](t, rec).ErrorCode != CodeInvalidRequest {
			t.Fatalf("GET ?%s = %d %s", bad, rec.Code, rec.Body)
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
		{http.MethodDelete, JobStatusPath(uuid.NewString()), http.StatusMethodNotAllowed, CodeMethodNotAllowed},
		{http.MethodGet, JobCancelPath(uuid.NewString()), http.StatusMethodNotAllowed, CodeMethodNotAllowed},
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
