package scheduler

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/jobweaver/jobweaver/shared/pgtest"
)

// Migration 00012 moves the leases of running jobs to their attempt rows
// (a job started by the older code keeps its lease), and its down
// migration moves the attempts' leases and start times back to the jobs,
// where the older code reads them.
func TestMigration12MovesLeasesToTheAttempts(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t, nil)
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, Migrations())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 11); err != nil {
		t.Fatal(err)
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	count := func(sql string) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	// Two RUNNING jobs: one started by the older code (its lease on the
	// job), one only dispatched.
	exec(`INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts, next_run_at, created_at,
	                        lease_until, started_at, dispatch_id, dispatched_at) VALUES
	      ('00000000-0000-0000-0000-000000000001', 'SIMULATION', '{}', 0, 't', 'RUNNING', 1, now(), now(),
	       now() + interval '1 minute', now(), gen_random_uuid(), now()),
	      ('00000000-0000-0000-0000-000000000002', 'SIMULATION', '{}', 0, 't', 'RUNNING', 1, now(), now(),
	       NULL, NULL, gen_random_uuid(), now())`)
	exec(`INSERT INTO job_attempts (job_id, attempt, dispatched_at, started_at)
	      SELECT id, 1, dispatched_at, started_at FROM jobs`)
	if _, err := p.UpTo(ctx, 12); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id
		WHERE a.lease_until IS NOT DISTINCT FROM j.lease_until`); n != 2 {
		t.Fatalf("%d of 2 attempts carry their job's lease (or none) after 00012", n)
	}

	// The new code starts the second job: its lease and start are on the
	// attempt only. Down, the job gets them.
	exec(`UPDATE job_attempts SET started_at = now(), lease_until = now() + interval '1 minute'
	       WHERE job_id = '00000000-0000-0000-0000-000000000002'`)
	if _, err := p.DownTo(ctx, 11); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM jobs WHERE lease_until IS NOT NULL AND started_at IS NOT NULL`); n != 2 {
		t.Fatalf("%d of 2 started jobs have their lease and start on the job row after going down", n)
	}
}
