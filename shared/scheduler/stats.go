package scheduler

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/outbox"
)

// statsCountCap bounds the due count per queue (fresh and retry), so that
// a huge backlog costs a bounded index scan per poll of GET /api/system.
const statsCountCap = 100_000

// serveStats is GET internalapi.PathStats.
func (s *Service) serveStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.Stats(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, st)
}

// Stats reads what GET /api/system shows of the scheduler, in one
// read-only snapshot: the due backlog (counted up to statsCountCap per
// queue) and its oldest age, the RUNNING jobs, the attempts finished per
// minute over the last hour, and the outbox.
func (s *Service) Stats(ctx context.Context) (internalapi.SchedulerStats, error) {
	var st internalapi.SchedulerStats
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		n, oldest, err := jobDueBacklog(ctx, tx, statsCountCap)
		if err != nil {
			return err
		}
		st.Due = internalapi.DueStats{Count: int64(n), OldestAgeSeconds: int64(oldest / time.Second)}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE status = 'RUNNING'`).Scan(&st.Running.Count); err != nil {
			return fmt.Errorf("scheduler: count the running jobs: %w", err)
		}
		if st.Throughput, err = attemptThroughput(ctx, tx); err != nil {
			return err
		}
		if st.Outbox.Pending, _, err = outbox.Backlog(ctx, tx); err != nil {
			return fmt.Errorf("scheduler: count the outbox: %w", err)
		}
		if st.Outbox.Parked, err = outbox.Parked(ctx, tx); err != nil {
			return fmt.Errorf("scheduler: count the parked outbox rows: %w", err)
		}
		return nil
	})
	return st, err
}

// throughputQuery counts the attempts finished in each of the last
// ThroughputPoints minutes (the current one last, so far), by outcome,
// with a row of zeros for a minute without any. It reads
// job_attempts_finished_idx (migration 00008) only.
const throughputQuery = `
	WITH f AS (
	    SELECT date_trunc('minute', finished_at) AS m,
	           count(*) FILTER (WHERE outcome = 'COMPLETED') AS completed,
	           count(*) FILTER (WHERE outcome IN ('FAILED', 'LEASE_EXPIRED')) AS failed
	      FROM job_attempts
	     WHERE finished_at IS NOT NULL
	       AND finished_at >= date_trunc('minute', now()) - ($1::int - 1) * interval '1 minute'
	     GROUP BY 1
	)
	SELECT b.m, coalesce(f.completed, 0), coalesce(f.failed, 0)
	  FROM generate_series(date_trunc('minute', now()) - ($1::int - 1) * interval '1 minute',
	                       date_trunc('minute', now()), interval '1 minute') AS b(m)
	  LEFT JOIN f ON f.m = b.m
	 ORDER BY b.m`

// attemptThroughput returns the last hour of finished attempts, minute by
// minute, oldest first. Completed attempts are jobs completed; failed ones
// are failure results and lease expiries, retried or not (the JobsFailed
// metric); cancelled attempts count in neither.
func attemptThroughput(ctx context.Context, q querier) (internalapi.Throughput, error) {
	rows, err := q.Query(ctx, throughputQuery, internalapi.ThroughputPoints)
	if err != nil {
		return internalapi.Throughput{}, fmt.Errorf("scheduler: read the throughput: %w", err)
	}
	points, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (internalapi.ThroughputPoint, error) {
		var p internalapi.ThroughputPoint
		err := row.Scan(&p.At, &p.Completed, &p.Failed)
		p.At = p.At.UTC()
		return p, err
	})
	if err != nil {
		return internalapi.Throughput{}, fmt.Errorf("scheduler: read the throughput: %w", err)
	}
	return internalapi.Throughput{BucketSeconds: internalapi.ThroughputBucketSeconds, Points: points}, nil
}
