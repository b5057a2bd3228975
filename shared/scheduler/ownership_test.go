package scheduler

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/paging"
)

// TestIngestRecordsTheCaller: a job-created event's createdBy is stored
// and shown; an event from before callers were recorded is "anonymous".
// The list filters by it.
func TestIngestRecordsTheCaller(t *testing.T) {
	b := setup(t, nil)
	mine := newJobCreated(t, jobOpts{CreatedBy: "jwt:alice"})
	old := newJobCreated(t, jobOpts{})
	if strings.Contains(string(old.Payload), "createdBy") {
		t.Fatalf("an event without a caller carries createdBy: %s", old.Payload)
	}
	b.consume(t, b.service(t, paused), mine, old)
	for _, tc := range []struct {
		id, want string
	}{{mine.JobID, "jwt:alice"}, {old.JobID, "anonymous"}} {
		if j := b.job(t, tc.id); j.CreatedBy != tc.want {
			t.Errorf("job %s: createdBy %q, want %q", tc.id, j.CreatedBy, tc.want)
		}
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"createdBy=jwt:alice", []string{mine.JobID}},
		{"createdBy=anonymous", []string{old.JobID}},
		{"createdBy=jwt:bob", nil},
	} {
		p := decodeJSON[paging.Page[internalapi.JobSummary]](t, b.serve(t, http.MethodGet, internalapi.PathJobs+"?"+tc.query, ""))
		var got []string
		for _, j := range p.Content {
			got = append(got, j.JobID)
			if j.CreatedBy == "" {
				t.Errorf("%s: item %s has no createdBy", tc.query, j.JobID)
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") || p.TotalElements != int64(len(tc.want)) {
			t.Errorf("%s: %v (total %d), want %v", tc.query, got, p.TotalElements, tc.want)
		}
	}
}

// TestCreatedByListUsesItsIndex: one caller's page reads through
// jobs_creator_created_idx (00009), like the other filters.
func TestCreatedByListUsesItsIndex(t *testing.T) {
	b := setup(t, nil)
	b.exec(t, `
		INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts, next_run_at, created_at, created_by)
		SELECT gen_random_uuid(), 'SIMULATION', '{"steps":[]}', 1, 'trace-' || g, 'COMPLETED', 1, now(),
		       now() - g * interval '1 second', 'key-' || (g % 200)
		  FROM generate_series(1, 20000) AS g`)
	b.exec(t, `ANALYZE jobs`)
	for _, query := range []string{
		`SELECT id FROM jobs WHERE created_by = 'key-7' ORDER BY created_at DESC, id DESC LIMIT 21`,
		`SELECT id FROM jobs WHERE created_by = 'key-7' AND (created_at, id) < (now() - interval '1 hour', gen_random_uuid()) ORDER BY created_at DESC, id DESC LIMIT 21`,
		`SELECT count(*) FROM (SELECT 1 FROM jobs WHERE created_by = 'key-7' LIMIT 10001) c`,
	} {
		var plan strings.Builder
		rows, err := b.pool.Query(context.Background(), `EXPLAIN `+query)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(line + "\n")
		}
		if !strings.Contains(plan.String(), "jobs_creator_created_idx") {
			t.Errorf("%s does not use jobs_creator_created_idx:\n%s", query, plan.String())
		}
	}
	p := decodeJSON[paging.Page[internalapi.JobSummary]](t, b.serve(t, http.MethodGet, internalapi.PathJobs+"?createdBy=key-7&size=10", ""))
	if p.TotalElements != 100 || len(p.Content) != 10 || p.Content[0].CreatedBy != "key-7" {
		t.Fatalf("key-7's page: total %d, %d items", p.TotalElements, len(p.Content))
	}
}

// TestCancelRecordsWhoCancelled: the history's CANCELLED event names the
// caller of the cancel request: for an ingested job, for one cancelled
// before it was ingested (which also keeps its creator), and
// "anonymous" for a request that names none.
func TestCancelRecordsWhoCancelled(t *testing.T) {
	b := setup(t, nil)
	cancelAs := func(created envelope.Envelope, by string, withSubmission bool) {
		t.Helper()
		body := ""
		if withSubmission {
			var c envelope.JobCreated
			if err := created.DecodePayload(&c); err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(internalapi.CancelRequest{JobCreated: c, TraceID: created.TraceID, By: by})
			body = string(raw)
		}
		if rec := b.serve(t, http.MethodPost, internalapi.JobCancelPath(created.JobID), body); rec.Code != http.StatusOK {
			t.Fatalf("cancel = %d %s", rec.Code, rec.Body)
		}
	}
	ingested := newJobCreated(t, jobOpts{CreatedBy: "key-a"})
	bare := newJobCreated(t, jobOpts{CreatedBy: "key-a"})
	b.consume(t, b.service(t, paused), ingested, bare)
	early := newJobCreated(t, jobOpts{CreatedBy: "key-a"})
	cancelAs(ingested, "key-b", true)
	cancelAs(early, "jwt:carol", true) // before its job-created arrives
	cancelAs(bare, "", false)
	b.consume(t, b.service(t, paused), early) // arrives late: changes nothing

	for _, tc := range []struct {
		id, by string
	}{{ingested.JobID, "key-b"}, {early.JobID, "jwt:carol"}, {bare.JobID, "anonymous"}} {
		if j := b.job(t, tc.id); j.Status != internalapi.StatusCancelled || j.CreatedBy != "key-a" {
			t.Errorf("job %s: %s by %q", tc.id, j.Status, j.CreatedBy)
		}
		h := decodeJSON[internalapi.JobHistory](t, b.serve(t, http.MethodGet, internalapi.JobHistoryPath(tc.id), ""))
		last := h.Events[len(h.Events)-1]
		if last.Type != internalapi.EventCancelled || last.By != tc.by {
			t.Errorf("job %s: last event %+v, want CANCELLED by %q", tc.id, last, tc.by)
		}
	}
}
