package dlq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/apigwtest"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/paging"
)

// seedBase is when seeded entries start failing (two days ago, well
// within retention); entry g fails g seconds later and is received a
// second after that.
var seedBase = time.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)

// seed inserts n entries with SQL: status NEW but every 5th RETRIED,
// every 7th DISMISSED; job type T<g%20>, error code E<g%10>, reason
// RETRIES_EXHAUSTED but every 4th PERMANENT_FAILURE, trace tr-<g/10>.
func seed(ctx context.Context, tb testing.TB, pool *pgxpool.Pool, n int) {
	tb.Helper()
	if _, err := pool.Exec(ctx, `
		INSERT INTO dead_letters (event_id, job_id, trace_id, job_type, reason, error_code, last_error, job, attempts, status, failed_at, received_at)
		SELECT gen_random_uuid(), gen_random_uuid(), 'tr-' || (g / 10), 'T' || (g % 20),
		       CASE WHEN g % 4 = 0 THEN 'PERMANENT_FAILURE' ELSE 'RETRIES_EXHAUSTED' END,
		       'E' || (g % 10), 'boom', '{"jobType":"T","maxRetryCount":0}', '[]',
		       CASE WHEN g % 5 = 0 THEN 'RETRIED' WHEN g % 7 = 0 THEN 'DISMISSED' ELSE 'NEW' END,
		       $2::timestamptz + g * interval '1 second', $2::timestamptz + (g + 1) * interval '1 second'
		  FROM generate_series(1, $1) AS g`, n, seedBase); err != nil {
		tb.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE dead_letters`); err != nil {
		tb.Fatal(err)
	}
}

func at(sec int) *time.Time { t := seedBase.Add(time.Duration(sec) * time.Second); return &t }

// TestListFilters: each filter, alone and together, selects the entries
// it names, newest first, with an exact total; a cursor walks the same
// entries; the route answers a bad filter with a 400 naming the field.
func TestListFilters(t *testing.T) {
	svc, pool := setup(t, dlq.Config{PageSizeMax: 1000})
	ctx := context.Background()
	seed(ctx, t, pool, 700)
	for _, c := range []struct {
		name  string
		f     dlq.Filter
		where string // the same selection in SQL over g (1..700)
	}{
		{"none", dlq.Filter{}, "true"},
		{"status", dlq.Filter{Status: "DISMISSED"}, "g % 5 <> 0 AND g % 7 = 0"},
		{"jobType", dlq.Filter{JobType: "T3"}, "g % 20 = 3"},
		{"errorCode", dlq.Filter{ErrorCode: "E4"}, "g % 10 = 4"},
		{"reason", dlq.Filter{Reason: "PERMANENT_FAILURE"}, "g % 4 = 0"},
		{"traceId", dlq.Filter{TraceID: "tr-12"}, "g / 10 = 12"},
		{"from-to", dlq.Filter{From: at(100), To: at(200)}, "g >= 100 AND g < 200"},
		{"all", dlq.Filter{Status: "NEW", JobType: "T3", ErrorCode: "E3", Reason: "RETRIES_EXHAUSTED", From: at(1), To: at(600)},
			"g % 5 <> 0 AND g % 7 <> 0 AND g % 20 = 3 AND g % 4 <> 0 AND g < 600"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var want int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM generate_series(1, 700) g WHERE `+c.where).Scan(&want); err != nil {
				t.Fatal(err)
			}
			page, err := svc.ListFiltered(ctx, c.f, paging.Request{Size: 1000}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Content) != want || page.TotalElements != int64(want) || want == 0 {
				t.Fatalf("%d entries, total %d; want %d", len(page.Content), page.TotalElements, want)
			}
			for i, e := range page.Content {
				if (c.f.Status != "" && e.Status != c.f.Status) || (c.f.JobType != "" && e.JobType != c.f.JobType) ||
					(c.f.TraceID != "" && e.TraceID != c.f.TraceID) || (c.f.From != nil && e.FailedAt.Before(*c.f.From)) ||
					(c.f.To != nil && !e.FailedAt.Before(*c.f.To)) {
					t.Fatalf("entry %d does not match: %+v", i, e)
				}
				if i > 0 && e.ReceivedAt.After(page.Content[i-1].ReceivedAt) {
					t.Fatalf("entry %d is newer than the one before it", i)
				}
			}
			var walked []string
			var after *paging.Cursor
			for {
				p, err := svc.ListFiltered(ctx, c.f, paging.Request{Size: 37}, after)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range p.Content {
					walked = append(walked, e.ID)
				}
				if p.NextCursor == "" {
					break
				}
				cur, err := paging.DecodeCursor(p.NextCursor)
				if err != nil {
					t.Fatal(err)
				}
				after = &cur
			}
			if len(walked) != want || walked[0] != page.Content[0].ID || walked[want-1] != page.Content[want-1].ID {
				t.Fatalf("the cursor walked %d entries; want %d in the page's order", len(walked), want)
			}
		})
	}

	for q, field := range map[string]string{
		"status=OPEN":             "status",
		"from=yesterday":          "from",
		"to=2026-13-01T00:00:00Z": "to",
		"from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z": "from",
		"jobType=" + strings.Repeat("x", 201):               "jobType",
	} {
		v, _ := url.ParseQuery(q)
		status, body := apigwtest.Call(ctx, t, svc.Handle, http.MethodGet, internalapi.PathDeadLetters+"?"+v.Encode(), "")
		if status != http.StatusBadRequest || !strings.Contains(string(body), `"DLQ.INVALID_REQUEST"`) || !strings.Contains(string(body), field+": ") {
			t.Errorf("%s: %d %s; want a 400 naming %s", q, status, body, field)
		}
	}
	f := dlq.Filter{Status: "NEW", JobType: "T3", From: at(1)}
	status, body := apigwtest.Call(ctx, t, svc.Handle, http.MethodGet, internalapi.PathDeadLetters+"?size=5&"+f.Query().Encode(), "")
	var page paging.Page[dlq.Entry]
	if err := json.Unmarshal(body, &page); status != http.StatusOK || err != nil || len(page.Content) != 5 || page.Content[0].JobType != "T3" {
		t.Fatalf("route: %d %.300s", status, body)
	}
}

// TestFilteredListsUseIndexesAt100k: at 100,000 entries, the plan of
// every filtered list query (a page by offset, a page after a cursor, and
// the capped count) reads dead_letters through an index, never a
// sequential scan. The plans are checked, not timed.
func TestFilteredListsUseIndexesAt100k(t *testing.T) {
	_, pool := setup(t, dlq.Config{})
	ctx := context.Background()
	seed(ctx, t, pool, 100_000)
	cur := seedBase.Add(50_000 * time.Second)
	for _, c := range []struct {
		name string
		f    dlq.Filter
	}{
		{"none", dlq.Filter{}},
		{"status", dlq.Filter{Status: "DISMISSED"}},
		{"status NEW", dlq.Filter{Status: "NEW"}},
		{"jobType", dlq.Filter{JobType: "T3"}},
		{"errorCode", dlq.Filter{ErrorCode: "E4"}},
		{"reason", dlq.Filter{Reason: "PERMANENT_FAILURE"}},
		{"traceId", dlq.Filter{TraceID: "tr-1234"}},
		{"from", dlq.Filter{From: at(90_000)}},
		{"from-to", dlq.Filter{From: at(10_000), To: at(11_000)}},
		{"to", dlq.Filter{To: at(5_000)}},
		{"status+jobType+range", dlq.Filter{Status: "NEW", JobType: "T7", From: at(20_000), To: at(80_000)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, q := range dlq.ListQueries(c.f, 20, cur) {
				plan := explain(ctx, t, pool, q.SQL, q.Args)
				if scans := seqScans(plan); len(scans) > 0 {
					t.Errorf("%s reads %v sequentially:\n%s\nplan: %s", q.Name, scans, q.SQL, plan)
				}
			}
		})
	}
}

func explain(ctx context.Context, tb testing.TB, pool *pgxpool.Pool, sql string, args []any) string {
	tb.Helper()
	var plan []byte
	if err := pool.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+sql, args...).Scan(&plan); err != nil {
		tb.Fatalf("explain %s: %v", sql, err)
	}
	return string(plan)
}

// seqScans lists the relations a JSON plan reads with a Seq Scan.
func seqScans(plan string) []string {
	var root []map[string]any
	if err := json.Unmarshal([]byte(plan), &root); err != nil {
		return []string{"unparsable plan: " + err.Error()}
	}
	var out []string
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		if n["Node Type"] == "Seq Scan" {
			out = append(out, fmt.Sprint(n["Relation Name"]))
		}
		if kids, ok := n["Plans"].([]any); ok {
			for _, k := range kids {
				if m, ok := k.(map[string]any); ok {
					walk(m)
				}
			}
		}
	}
	for _, r := range root {
		if p, ok := r["Plan"].(map[string]any); ok {
			walk(p)
		}
	}
	return out
}
