package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/tracing"
)

// A hop is one leg of a job's way from the client's send to the
// scheduler's applied result, between two timestamps that the services
// write anyway (issue #14, step 2: where the time goes). All of them come
// from one machine's clock here: the bench's and the databases'.
type hop struct {
	name string
	what string // what the leg is made of (docs/performance.md's hop table)
	from string // stamp names in hopStamps
	to   string
}

var hops = []hop{
	{"send → api stored", "HTTP, the api's one-statement insert and commit", "sent", "api"},
	{"api stored → ingested", "publish to job-created, mapping fetch, scheduler ingest and commit", "api", "ingested"},
	{"ingested → dispatched", "waiting for a dispatch pass (the in-flight cap, the fair split)", "ingested", "dispatched"},
	{"dispatched → started", "outbox relay, run-job fetch, the worker's start call", "dispatched", "started"},
	{"started → worker ran", "a worker slot, checkpoints loaded", "started", "ran"},
	{"worker ran → recorded", "the steps (one LOG) until the worker's clock stopped", "ran", "recorded"},
	{"recorded → applied", "record commit, job-completed publish and fetch, the scheduler's result commit", "recorded", "applied"},
}

// hopRows reads each sent job's timestamps from the api, scheduler and
// worker databases (first attempt only) and returns a row per hop with
// its p50 and p99, so that a latency figure comes with its breakdown.
func (b *bench) hopRows(ctx context.Context, scenario string, sent map[string]time.Time) ([]row, error) {
	ids := keys(sent)
	stamps := map[string]map[string]time.Time{"sent": sent}
	api, err := openDB(ctx, b.st, b.prefix, "api", 2)
	if err != nil {
		return nil, err
	}
	defer api.Close()
	for _, q := range []struct {
		name string
		pool *pgxpool.Pool
		sql  string
	}{
		{"api", api, `SELECT id::text, created_at FROM jobs WHERE id = ANY($1::uuid[])`},
		{"ingested", b.scheduler, `SELECT id::text, ingested_at FROM jobs WHERE id = ANY($1::uuid[])`},
		{"dispatched", b.scheduler, `SELECT job_id::text, dispatched_at FROM job_attempts WHERE attempt = 1 AND job_id = ANY($1::uuid[])`},
		{"started", b.scheduler, `SELECT job_id::text, started_at FROM job_attempts WHERE attempt = 1 AND job_id = ANY($1::uuid[])`},
		{"applied", b.scheduler, `SELECT job_id::text, finished_at FROM job_attempts WHERE attempt = 1 AND job_id = ANY($1::uuid[])`},
		{"ran", b.worker, `SELECT job_id::text, started_at FROM executions WHERE attempt = 1 AND job_id = ANY($1::uuid[])`},
		{"recorded", b.worker, `SELECT job_id::text, finished_at FROM executions WHERE attempt = 1 AND job_id = ANY($1::uuid[])`},
	} {
		m, err := b.times(ctx, q.pool, q.sql, ids)
		if err != nil {
			return nil, fmt.Errorf("hops: %s: %w", q.name, err)
		}
		stamps[q.name] = m
	}
	out := make([]row, 0, len(hops))
	for _, h := range hops {
		fmt.Fprintf(os.Stderr, "bench: hop %s: %s\n", h.name, h.what)
		d := diffs(stamps[h.from], stamps[h.to])
		out = append(out, row{scenario, "hop " + h.name + " p50 / p99",
			fmt.Sprintf("%s / %s", ms(pct(d, 50)), ms(pct(d, 99))), "-", "-", ""})
	}
	if b.spans == nil {
		return out, nil
	}
	spanRows, err := b.spanRows(ctx, scenario, ids)
	if err != nil {
		return nil, err
	}
	return append(out, spanRows...), nil
}

// spanRows returns a row per span name (with its service) over the
// traces of the jobs ids that were sampled: how many, and their p50 and
// p99 durations, slowest p50 first. It is the inside of the hops above:
// which statement, produce or handler the time of a hop is.
func (b *bench) spanRows(ctx context.Context, scenario string, ids []string) ([]row, error) {
	traceIDs, err := b.strings(ctx, b.scheduler, `SELECT DISTINCT trace_id FROM jobs WHERE id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, err
	}
	byName := map[string][]time.Duration{}
	traced := 0
	for _, t := range traceIDs {
		sp := b.spans.Trace(tracing.IDOf(t))
		if len(sp) > 0 {
			traced++
		}
		for _, s := range sp {
			k := s.Service + ": " + s.Name
			byName[k] = append(byName[k], s.End.Sub(s.Start))
		}
	}
	if len(traceIDs) > 0 {
		printWaterfall(b.spans.Trace(tracing.IDOf(traceIDs[len(traceIDs)/2])))
	}
	names := make([]string, 0, len(byName))
	for k, d := range byName {
		slices.Sort(d)
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return pct(byName[names[i]], 50) > pct(byName[names[j]], 50) })
	out := []row{{scenario, "traces kept of the jobs' trace IDs", fmt.Sprintf("%d of %d", traced, len(traceIDs)), "-", "-", ""}}
	for _, k := range names {
		d := byName[k]
		out = append(out, row{scenario, fmt.Sprintf("span %s p50 / p99 (%d)", k, len(d)),
			fmt.Sprintf("%s / %s", ms(pct(d, 50)), ms(pct(d, 99))), "-", "-", ""})
	}
	return out, nil
}

// printWaterfall prints one trace's spans to stderr, each under its
// parent, with its start from the trace's first span and its duration.
func printWaterfall(spans []tracing.Span) {
	if len(spans) == 0 {
		return
	}
	slices.SortFunc(spans, func(a, b tracing.Span) int { return a.Start.Compare(b.Start) })
	t0 := spans[0].Start
	children := map[string][]tracing.Span{}
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanID] = true
	}
	var roots []tracing.Span
	for _, s := range spans {
		if s.ParentSpanID == "" || !ids[s.ParentSpanID] {
			roots = append(roots, s)
		} else {
			children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
		}
	}
	fmt.Fprintf(os.Stderr, "bench: one job's trace %s (start ms, duration ms):\n", spans[0].TraceID)
	var walk func(s tracing.Span, depth int)
	walk = func(s tracing.Span, depth int) {
		fmt.Fprintf(os.Stderr, "  %8.1f %7.1f  %s%s: %s\n", float64(s.Start.Sub(t0).Microseconds())/1000,
			float64(s.End.Sub(s.Start).Microseconds())/1000, strings.Repeat("  ", depth), s.Service, s.Name)
		for _, c := range children[s.SpanID] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
}

// strings runs a query of one text column with ids as $1.
func (b *bench) strings(ctx context.Context, pool *pgxpool.Pool, sql string, ids []string) ([]string, error) {
	rows, err := pool.Query(ctx, sql, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// openDB opens a small pool on one of the stack's databases.
func openDB(ctx context.Context, st *devstack.Stack, prefix, svc string, conns int32) (*pgxpool.Pool, error) {
	u, err := pgdb.WithDatabase(st.DatabaseURL, prefix+"_"+svc)
	if err != nil {
		return nil, err
	}
	return pgdb.Open(ctx, u, conns)
}
