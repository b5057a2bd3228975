package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/testwait"
)

// runningKept is the running count the triggers keep (jobs_running).
func runningKept(t *testing.T, q querier) int {
	t.Helper()
	var n int
	if err := q.QueryRow(context.Background(), `SELECT coalesce(sum(n), 0) FROM jobs_running`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The running count follows every way a job enters or leaves RUNNING, in
// statements of many rows; a change rolled back leaves it alone.
func TestRunningCountFollowsEveryChange(t *testing.T) {
	b := setup(t, nil)
	steps := []struct {
		name string
		sql  string
		want int
	}{
		{"insert, some RUNNING", `
			INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, next_run_at, created_at)
			SELECT gen_random_uuid(), 'T', '{}', 0, 't', CASE WHEN i % 3 = 0 THEN 'PENDING' ELSE 'RUNNING' END, now(), now()
			  FROM generate_series(1, 30) i`, 20},
		{"some finish", `UPDATE jobs SET status = 'COMPLETED' WHERE id IN (SELECT id FROM jobs WHERE status = 'RUNNING' ORDER BY id LIMIT 5)`, 15},
		{"the pending start", `UPDATE jobs SET status = 'RUNNING' WHERE status = 'PENDING'`, 25},
		{"an update that keeps the status", `UPDATE jobs SET version = version + 1`, 25},
		{"an update that matches nothing", `UPDATE jobs SET status = 'RUNNING' WHERE false`, 25},
		{"some go back to PENDING", `UPDATE jobs SET status = 'PENDING' WHERE id IN (SELECT id FROM jobs WHERE status = 'RUNNING' ORDER BY id LIMIT 3)`, 22},
		{"delete some RUNNING", `DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status = 'RUNNING' ORDER BY id LIMIT 4)`, 18},
		{"delete the finished", `DELETE FROM jobs WHERE status = 'COMPLETED'`, 18},
		{"truncate", `TRUNCATE jobs CASCADE`, 0},
		{"insert after the truncate", `
			INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, next_run_at, created_at)
			SELECT gen_random_uuid(), 'T', '{}', 0, 't', 'RUNNING', now(), now() FROM generate_series(1, 7)`, 7},
	}
	for _, st := range steps {
		if _, err := b.pool.Exec(b.ctx, st.sql); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := runningKept(t, b.pool); got != st.want {
			t.Fatalf("after %q the running count is %d, want %d", st.name, got, st.want)
		}
	}

	tx, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(b.ctx, `UPDATE jobs SET status = 'COMPLETED'`); err != nil {
		t.Fatal(err)
	}
	if got := runningKept(t, tx); got != 0 {
		t.Errorf("inside the transaction that finished every job the count is %d, want 0", got)
	}
	if got := runningKept(t, b.pool); got != 7 {
		t.Errorf("outside that transaction, before it ends, the count is %d, want 7", got)
	}
	if err := tx.Rollback(b.ctx); err != nil {
		t.Fatal(err)
	}
	if got := runningKept(t, b.pool); got != 7 {
		t.Errorf("after the rollback the count is %d, want 7", got)
	}
}

// Backends that change jobs at once never wait for one another's count
// rows, and once they have ended the fold moves their rows into pid 0
// without changing the sum.
func TestRunningCountFold(t *testing.T) {
	b := setup(t, nil)
	if _, err := b.pool.Exec(b.ctx, `
		INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, next_run_at, created_at)
		SELECT gen_random_uuid(), 'T', '{}', 0, 't', 'PENDING', now(), now() FROM generate_series(1, 40)`); err != nil {
		t.Fatal(err)
	}
	// Eight connections each start five jobs in a transaction they hold
	// open until all eight have written: none waits for another.
	const conns = 8
	url := b.pool.Config().ConnConfig.ConnString()
	var wrote, release sync.WaitGroup
	wrote.Add(conns)
	release.Add(1)
	errs := make(chan error, conns)
	for i := range conns {
		go func() {
			errs <- func() error {
				c, err := pgx.Connect(b.ctx, url)
				if err != nil {
					wrote.Done()
					return err
				}
				defer c.Close(context.Background())
				tx, err := c.Begin(b.ctx)
				if err != nil {
					wrote.Done()
					return err
				}
				_, err = tx.Exec(b.ctx, `
					UPDATE jobs SET status = 'RUNNING'
					 WHERE id IN (SELECT id FROM jobs ORDER BY id OFFSET $1 LIMIT 5)`, i*5)
				wrote.Done()
				if err != nil {
					return err
				}
				release.Wait()
				return tx.Commit(b.ctx)
			}()
		}()
	}
	wrote.Wait() // would hang if a connection's count waited for another's
	release.Done()
	for range conns {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var rows int
	if err := b.pool.QueryRow(b.ctx, `SELECT count(*) FROM jobs_running WHERE pid <> 0`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != conns {
		t.Fatalf("%d backend rows, want %d (one per connection)", rows, conns)
	}
	// The eight connections have closed; their backends end a moment later.
	testwait.Eventually(t, 10*time.Second, "the closed connections' backends to end", func() bool {
		var left int
		_ = b.pool.QueryRow(b.ctx, `SELECT count(*) FROM jobs_running r WHERE r.pid <> 0 AND r.pid IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)`).Scan(&left)
		return left == 0
	})
	if err := runningCountFold(b.ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	if err := b.pool.QueryRow(b.ctx, `SELECT count(*) FROM jobs_running WHERE pid <> 0`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("%d rows of ended backends left after the fold, want 0", rows)
	}
	if got := runningKept(t, b.pool); got != 40 {
		t.Errorf("after the fold the count is %d, want 40", got)
	}
}
