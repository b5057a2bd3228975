package dlq_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/paging"
)

// TestListIsASummary: list entries leave out payloads and raw values and
// cut long errors, marked truncated; a cursor walks every entry once, in
// the order of the pages.
func TestListIsASummary(t *testing.T) {
	svc, pool := setup(t, dlq.Config{PageSizeMax: 100})
	ctx := context.Background()
	big := strings.Repeat("<", 50_000)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, err := pool.Exec(ctx, `
		INSERT INTO dead_letters (event_id, job_id, trace_id, job_type, reason, last_error, job, attempts, source, received_at)
		SELECT gen_random_uuid(), gen_random_uuid(), 't', 'SIMULATION', 'RETRIES_EXHAUSTED', $1,
		       jsonb_build_object('jobType', 'SIMULATION', 'maxRetryCount', 1,
		                          'payload', jsonb_build_object('steps', jsonb_build_array(jsonb_build_object('action', 'LOG', 'message', $1::text)))),
		       jsonb_build_array(jsonb_build_object('attempt', 1, 'dispatchedAt', $2::timestamptz, 'durationMs', 1, 'outcome', 'FAILED', 'error', $1::text)),
		       CASE WHEN g % 2 = 0 THEN jsonb_build_object('topic', 'run-job', 'partition', 0, 'offset', g, 'value', $1::text) END,
		       $2::timestamptz + (g / 3) * interval '1 second' -- ties on received_at
		  FROM generate_series(1, 25) AS g`, big, base); err != nil {
		t.Fatal(err)
	}
	all, err := svc.List(ctx, paging.Request{Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Content) != 25 || all.TotalElements != 25 || all.TotalIsEstimate || all.NextCursor != "" {
		t.Fatalf("page: %d entries, total %d, estimate %v, next %q", len(all.Content), all.TotalElements, all.TotalIsEstimate, all.NextCursor)
	}
	for _, e := range all.Content {
		if !e.Truncated || e.Job == nil || len(e.Job.Payload) != 0 || e.Job.JobType != "SIMULATION" ||
			len([]rune(e.LastError)) != dlq.MaxListTextLen || len([]rune(e.Attempts[0].Error)) != dlq.MaxListTextLen ||
			(e.Source != nil && e.Source.Value != "") {
			t.Fatalf("list entry is not a summary: job %+v, error %d chars, source %+v", e.Job, len(e.LastError), e.Source)
		}
	}
	full, err := svc.Get(ctx, all.Content[0].ID)
	if err != nil || full.LastError != big || len(full.Job.Payload) < len(big) || full.Truncated {
		t.Fatalf("the entry itself is not whole: %v", err)
	}

	var walked []string
	var after *paging.Cursor
	for round := 0; round < 10; round++ {
		p, err := svc.ListAfter(ctx, paging.Request{Size: 7}, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Content {
			walked = append(walked, e.ID)
		}
		if p.NextCursor == "" {
			break
		}
		c, err := paging.DecodeCursor(p.NextCursor)
		if err != nil {
			t.Fatal(err)
		}
		after = &c
	}
	if len(walked) != 25 {
		t.Fatalf("cursors walked %d entries", len(walked))
	}
	for i, e := range all.Content {
		if walked[i] != e.ID {
			t.Fatalf("entry %d: %s by cursor, %s by page", i, walked[i], e.ID)
		}
	}
	if _, err := paging.DecodeCursor(paging.Cursor{Time: base, ID: uuid.NewString()}.Encode()); err != nil {
		t.Fatal(err)
	}
}
