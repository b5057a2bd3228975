package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/pgdb"
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
	return out, nil
}

// openDB opens a small pool on one of the stack's databases.
func openDB(ctx context.Context, st *devstack.Stack, prefix, svc string, conns int32) (*pgxpool.Pool, error) {
	u, err := pgdb.WithDatabase(st.DatabaseURL, prefix+"_"+svc)
	if err != nil {
		return nil, err
	}
	return pgdb.Open(ctx, u, conns)
}
