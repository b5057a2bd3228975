package scheduler

import (
	"context"
	"fmt"
	"net/http"
	"sync"
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
		// The count the triggers keep (migration 00013): O(1), where
		// counting the jobs visits every entry left RUNNING since the
		// last vacuum, on every poll of the console.
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(n), 0) FROM jobs_running`).Scan(&st.Running.Count); err != nil {
			return fmt.Errorf("scheduler: count the running jobs: %w", err)
		}
		if st.Throughput, err = s.attemptThroughput(ctx, tx); err != nil {
			return err
		}
		st.Outbox.Pending, st.Outbox.Parked, err = outbox.Counts(ctx, tx)
		return err
	})
	return st, err
}

// throughputQuery counts the attempts finished in each minute from $1 (a
// minute's start) to the current one (so far), by outcome, with a row of
// zeros for a minute without any. It reads job_attempts_finished_idx
// (migration 00008) only.
const throughputQuery = `
	WITH f AS (
	    SELECT date_trunc('minute', finished_at) AS m,
	           count(*) FILTER (WHERE outcome = 'COMPLETED') AS completed,
	           count(*) FILTER (WHERE outcome IN ('FAILED', 'LEASE_EXPIRED')) AS failed
	      FROM job_attempts
	     WHERE finished_at IS NOT NULL AND finished_at >= $1::timestamptz
	     GROUP BY 1
	)
	SELECT b.m, coalesce(f.completed, 0), coalesce(f.failed, 0)
	  FROM generate_series($1::timestamptz, date_trunc('minute', now()), interval '1 minute') AS b(m)
	  LEFT JOIN f ON f.m = b.m
	 ORDER BY b.m`

// settleAfter is how long after a minute ends its count is taken as
// final: the attempts finished in it have committed by then (an outcome's
// transaction is short), so a later read can reuse it.
const settleAfter = 2 * time.Minute

// throughputCache keeps the settled minutes of the last hour, so that a
// console polling every few seconds makes each read count only the last
// minutes. Each warm instance has its own.
type throughputCache struct {
	mu     sync.Mutex
	points []internalapi.ThroughputPoint // consecutive minutes, oldest first, all settled
}

// attemptThroughput returns the last hour of finished attempts, minute by
// minute, oldest first. Completed attempts are jobs completed; failed ones
// are failure results and lease expiries, retried or not (the JobsFailed
// metric); cancelled attempts count in neither.
func (s *Service) attemptThroughput(ctx context.Context, q querier) (internalapi.Throughput, error) {
	var current time.Time
	if err := q.QueryRow(ctx, `SELECT date_trunc('minute', now())`).Scan(&current); err != nil {
		return internalapi.Throughput{}, fmt.Errorf("scheduler: read the throughput: %w", err)
	}
	current = current.UTC()
	first := current.Add(-(internalapi.ThroughputPoints - 1) * time.Minute)
	c := &s.throughput
	c.mu.Lock()
	defer c.mu.Unlock()
	// Keep the cached minutes within the hour; count from the first one
	// after them.
	var kept []internalapi.ThroughputPoint
	for _, p := range c.points {
		if !p.At.Before(first) {
			kept = append(kept, p)
		}
	}
	from := first
	if len(kept) > 0 && kept[0].At.Equal(first) {
		from = kept[len(kept)-1].At.Add(time.Minute)
	} else {
		kept = nil
	}
	fresh, err := throughputFrom(ctx, q, from)
	if err != nil {
		return internalapi.Throughput{}, err
	}
	points := append(kept, fresh...)
	c.points = c.points[:0]
	for _, p := range points {
		if !p.At.Add(time.Minute + settleAfter).After(current) {
			c.points = append(c.points, p)
		}
	}
	return internalapi.Throughput{BucketSeconds: internalapi.ThroughputBucketSeconds, Points: points}, nil
}

// throughputFrom counts the minutes from from to the current one.
func throughputFrom(ctx context.Context, q querier, from time.Time) ([]internalapi.ThroughputPoint, error) {
	rows, err := q.Query(ctx, throughputQuery, from)
	if err != nil {
		return nil, fmt.Errorf("scheduler: read the throughput: %w", err)
	}
	points, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (internalapi.ThroughputPoint, error) {
		var p internalapi.ThroughputPoint
		err := row.Scan(&p.At, &p.Completed, &p.Failed)
		p.At = p.At.UTC()
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("scheduler: read the throughput: %w", err)
	}
	return points, nil
}
