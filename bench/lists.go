package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/paging"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/pgserver"
	"github.com/jobweaver/jobweaver/shared/scheduler"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// listBench is the lists scenario: GET /internal/jobs (the scheduler's
// list behind GET /api/jobs) on a jobs table of o.listRows rows, in a
// private Postgres cluster (its own data folder and port, autovacuum on as
// by default; never the machine's shared server). The table is loaded
// with COPY and VACUUM ANALYZEd once, then kept in the data folder for the
// next run. Each case is run o.listRuns times after two warm-ups; the
// table shows medians, next to what the old list did (count(*) of every
// match, full rows, OFFSET) for the same page.
func listBench(ctx context.Context, o options) error {
	dir := filepath.Join(o.dataDir+"-lists", fmt.Sprintf("rows-%d", o.listRows))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: lists: private Postgres cluster under %s (port %d)\n", dir, o.listPort)
	srv, err := pgserver.Find(ctx, "", dir, os.Stderr, pgserver.WithPort(o.listPort))
	if err != nil {
		return err
	}
	defer func() {
		if !o.keep {
			_ = srv.Stop()
		}
	}()
	const dbName = "jobweaver_listbench"
	if err := pgdb.EnsureDatabase(ctx, srv.URL, dbName); err != nil {
		return err
	}
	dsn, err := pgdb.WithDatabase(srv.URL, dbName)
	if err != nil {
		return err
	}
	pool, err := pgdb.Open(ctx, dsn, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pgdb.Migrate(ctx, pool, scheduler.Migrations()); err != nil {
		return err
	}
	var autovacuum string
	if err := pool.QueryRow(ctx, `SHOW autovacuum`).Scan(&autovacuum); err != nil {
		return err
	}
	if err := loadJobs(ctx, pool, o.listRows); err != nil {
		return err
	}

	// The scheduler's own handler, as the api reaches it. Its relay's
	// producer is never used by the list route and connects to nothing.
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		return err
	}
	defer cl.Close()
	cfg := scheduler.DefaultConfig()
	cfg.Metrics = metrics.New(io.Discard, "scheduler")
	svc, err := scheduler.New(cfg, &wiring.Deps{Pool: pool, Relay: &outbox.Relay{Pool: pool, Producer: cl}})
	if err != nil {
		return err
	}
	h := svc.HTTPHandler()

	var (
		traceID   string
		day       time.Time
		deepAfter paging.Cursor
	)
	deep := o.listRows / 2 // the offset of the deep page
	if err := pool.QueryRow(ctx, `SELECT trace_id FROM jobs ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1`, o.listRows/3).Scan(&traceID); err != nil {
		return err
	}
	if err := pool.QueryRow(ctx, `SELECT date_trunc('day', max(created_at)) - interval '3 days' FROM jobs`).Scan(&day); err != nil {
		return err
	}
	if err := pool.QueryRow(ctx, `SELECT created_at, id::text FROM jobs ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1`, deep-1).
		Scan(&deepAfter.Time, &deepAfter.ID); err != nil {
		return err
	}
	dayQ := url.Values{"createdFrom": {day.UTC().Format(time.RFC3339)}, "createdTo": {day.Add(24*time.Hour - time.Microsecond).UTC().Format(time.RFC3339Nano)}}

	type listCase struct {
		name, query string
		old         string // the old list's SQL for the same page ("" none)
		oldArgs     []any
	}
	oldList := func(where string, offset int) string {
		return `SELECT id::text, job_type, payload, max_retry_count, trace_id, status, attempts, last_error, last_error_code,
			created_at, started_at, finished_at, updated_at, next_run_at, lease_until, version FROM jobs` + where +
			fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET %d`, offset)
	}
	cases := []listCase{
		{"first page", "size=20", oldList("", 0), nil},
		{"filtered: status=FAILED", "size=20&status=FAILED", oldList(" WHERE status = $1", 0), []any{"FAILED"}},
		{"filtered: status=RUNNING (rare)", "size=20&status=RUNNING", oldList(" WHERE status = $1", 0), []any{"RUNNING"}},
		{"filtered: traceId", "size=20&traceId=" + url.QueryEscape(traceID), oldList(" WHERE trace_id = $1", 0), []any{traceID}},
		{"filtered: one day", "size=20&" + dayQ.Encode(), oldList(" WHERE created_at >= $1 AND created_at <= $2", 0), []any{day, day.Add(24*time.Hour - time.Microsecond)}},
		{"filtered: FAILED on one day", "size=20&status=FAILED&" + dayQ.Encode(), oldList(" WHERE status = $3 AND created_at >= $1 AND created_at <= $2", 0), []any{day, day.Add(24*time.Hour - time.Microsecond), "FAILED"}},
		{fmt.Sprintf("deep page by offset (row %d)", deep), fmt.Sprintf("size=20&page=%d", deep/20), oldList("", deep), nil},
		{fmt.Sprintf("deep page by cursor (row %d)", deep), "size=20&cursor=" + deepAfter.Encode(), "", nil},
		{fmt.Sprintf("deep FAILED page by offset (row %d)", deep/10), fmt.Sprintf("size=20&status=FAILED&page=%d", deep/200), oldList(" WHERE status = $1", deep/10), []any{"FAILED"}},
		{"size=100, first page", "size=100", "", nil},
	}
	counts := []struct {
		name, where string
		args        []any
	}{
		{"all jobs", "", nil},
		{"status=FAILED", " WHERE status = $1", []any{"FAILED"}},
		{"traceId", " WHERE trace_id = $1", []any{traceID}},
		{"one day", " WHERE created_at >= $1 AND created_at <= $2", []any{day, day.Add(24*time.Hour - time.Microsecond)}},
	}

	median := func(f func() error) (time.Duration, error) {
		var ds []time.Duration
		for i := range o.listRuns + 2 {
			start := time.Now()
			if err := f(); err != nil {
				return 0, err
			}
			if i >= 2 {
				ds = append(ds, time.Since(start))
			}
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2], nil
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

	// What the old list did, on the table as it was: in a transaction
	// that drops the indexes of migration 00004 (rolled back after).
	before := map[string]string{}
	countBefore := map[string]time.Duration{}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DROP INDEX jobs_status_created_idx, jobs_type_created_idx, jobs_trace_created_idx`); err != nil {
			return err
		}
		for _, c := range cases {
			if c.old == "" {
				continue
			}
			where := ""
			if i := strings.Index(c.old, " WHERE "); i >= 0 {
				where = c.old[i:strings.Index(c.old, " ORDER BY")]
			}
			d, err := median(func() error {
				var n int64
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM jobs`+where, c.oldArgs...).Scan(&n); err != nil {
					return err
				}
				rows, err := tx.Query(ctx, c.old, c.oldArgs...)
				if err != nil {
					return err
				}
				_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
				return err
			})
			if err != nil {
				return err
			}
			before[c.name] = ms(d)
		}
		for _, c := range counts {
			d, err := median(func() error {
				var n int64
				return tx.QueryRow(ctx, `SELECT count(*) FROM jobs`+c.where, c.args...).Scan(&n)
			})
			if err != nil {
				return err
			}
			countBefore[c.name] = d
		}
		return errRollback
	})
	if err != nil && err != errRollback {
		return err
	}

	fmt.Printf("\nlists: %d jobs, PostgreSQL %s, autovacuum %s, median of %d runs\n\n", o.listRows, serverVersion(ctx, pool), autovacuum, o.listRuns)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "| request\t| now: GET /internal/jobs\t| items\t| bytes\t| total\t| before: count(*) + full rows, no list indexes\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|")
	for _, c := range cases {
		var page paging.Page[json.RawMessage]
		var size int
		d, err := median(func() error {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, internalapi.PathJobs+"?"+c.query, nil))
			if rec.Code != http.StatusOK {
				return fmt.Errorf("%s: %d %s", c.query, rec.Code, rec.Body)
			}
			size = rec.Body.Len()
			return json.Unmarshal(rec.Body.Bytes(), &page)
		})
		if err != nil {
			return err
		}
		total := fmt.Sprint(page.TotalElements)
		if page.TotalIsEstimate {
			total = "~" + total + " (estimate)"
		}
		old := before[c.name]
		if old == "" {
			old = "—"
		}
		fmt.Fprintf(tw, "| %s\t| %s\t| %d\t| %d\t| %s\t| %s\t|\n", c.name, ms(d), len(page.Content), size, total, old)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Printf("\ncounts: paging.Count (exact up to %d, then the planner's estimate) vs count(*)\n\n", paging.CountCap)
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "| filter\t| paging.Count\t| result\t| count(*)\t| count(*), no list indexes\t| exact\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|")
	for _, c := range counts {
		var (
			n        int64
			estimate bool
			exact    int64
		)
		d, err := median(func() (err error) {
			n, estimate, err = paging.Count(ctx, pool, "jobs"+c.where, c.args, paging.CountCap)
			return err
		})
		if err != nil {
			return err
		}
		ed, err := median(func() error {
			return pool.QueryRow(ctx, `SELECT count(*) FROM jobs`+c.where, c.args...).Scan(&exact)
		})
		if err != nil {
			return err
		}
		res := fmt.Sprint(n)
		if estimate {
			res = "~" + res
		}
		fmt.Fprintf(tw, "| %s\t| %s\t| %s\t| %s\t| %s\t| %d\t|\n", c.name, ms(d), res, ms(ed), ms(countBefore[c.name]), exact)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if o.listExplain {
		for _, c := range []struct {
			name, sql string
			args      []any
		}{
			{"status filter", `SELECT id FROM jobs WHERE status = $1 ORDER BY created_at DESC, id DESC LIMIT 21`, []any{"FAILED"}},
			{"trace filter", `SELECT id FROM jobs WHERE trace_id = $1 ORDER BY created_at DESC, id DESC LIMIT 21`, []any{traceID}},
			{"cursor", `SELECT id FROM jobs WHERE (created_at, id) < ($1, $2::uuid) ORDER BY created_at DESC, id DESC LIMIT 21`, []any{deepAfter.Time, deepAfter.ID}},
			{"deep offset, the page's IDs", fmt.Sprintf(`SELECT id FROM jobs ORDER BY created_at DESC, id DESC LIMIT 21 OFFSET %d`, deep), nil},
		} {
			fmt.Printf("\nEXPLAIN ANALYZE (%s):\n", c.name)
			rows, err := pool.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+c.sql, c.args...)
			if err != nil {
				return err
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			fmt.Println(strings.Join(lines, "\n"))
		}
	}
	return nil
}

// errRollback ends a transaction that only measured.
var errRollback = errors.New("rollback")

func serverVersion(ctx context.Context, pool *pgxpool.Pool) string {
	var v string
	_ = pool.QueryRow(ctx, `SHOW server_version`).Scan(&v)
	return v
}

// loadJobs makes the jobs table hold n rows, unless it already does: over
// 30 days, 70 % COMPLETED, 15 % FAILED (with an error), 10 % PENDING,
// 4 % CANCELLED, 1 % RUNNING; ten jobs per trace ID; a payload of five
// steps. It loads with COPY, then runs VACUUM ANALYZE.
func loadJobs(ctx context.Context, pool *pgxpool.Pool, n int) error {
	var have int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM jobs`).Scan(&have); err != nil {
		return err
	}
	if have == int64(n) {
		fmt.Fprintf(os.Stderr, "bench: lists: %d jobs already loaded\n", n)
		return nil
	}
	fmt.Fprintf(os.Stderr, "bench: lists: loading %d jobs with COPY…\n", n)
	start := time.Now()
	if _, err := pool.Exec(ctx, `TRUNCATE jobs, job_attempts`); err != nil {
		return err
	}
	payload := []byte(`{"steps":[{"action":"LOG","message":"Starting simulation"},{"action":"SLEEP","durationMs":2000},` +
		`{"action":"COMPUTE","iterations":100000},{"action":"HTTP_CALL","url":"https://example.com/api","latencyMs":50},` +
		`{"action":"LOG","message":"Simulation complete"}]}`)
	end := time.Now().UTC().Truncate(time.Microsecond)
	span := 30 * 24 * time.Hour
	failErr := "step 2 (FAIL): simulated crash"
	failCode := "WORKER.STEP_FAILED"
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= n {
			return nil, nil
		}
		created := end.Add(-time.Duration(float64(span) * float64(n-i) / float64(n)))
		id, _ := uuid.NewV7()
		status := "COMPLETED"
		var lastErr, code *string
		var started, finished, lease *time.Time
		attempts := 1
		switch r := i % 100; {
		case r < 15:
			status, lastErr, code, attempts = "FAILED", &failErr, &failCode, 4
		case r < 25:
			status, attempts = "PENDING", 0
		case r < 29:
			status, attempts = "CANCELLED", 0
		case r < 30:
			status = "RUNNING"
		}
		if attempts > 0 {
			s := created.Add(time.Second)
			started = &s
			if status == "RUNNING" {
				l := s.Add(15 * time.Minute)
				lease = &l
			} else {
				f := s.Add(3 * time.Second)
				finished = &f
			}
		}
		row := []any{id, "SIMULATION", payload, 3, fmt.Sprintf("trace-%d", i/10), status, attempts,
			created, lease, code, lastErr, created, created, started, finished, created, attempts}
		i++
		return row, nil
	})
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"jobs"},
		[]string{"id", "job_type", "payload", "max_retry_count", "trace_id", "status", "attempts",
			"next_run_at", "lease_until", "last_error_code", "last_error", "created_at", "ingested_at", "started_at", "finished_at", "updated_at", "version"},
		src)
	if err != nil {
		return fmt.Errorf("copy jobs: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: lists: loaded in %s; VACUUM ANALYZE…\n", time.Since(start).Round(time.Second))
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE jobs`); err != nil {
		return err
	}
	return nil
}
