package ratelimit

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// PG is the Store in Postgres: the table rate_buckets (caller text
// primary key, tat double precision, granted integer, updated_at
// timestamptz), made by the api's migration 00006. Each lease is one
// statement, atomic under concurrent leases of the same caller, and reads
// time from the database's clock only.
type PG struct {
	Pool *pgxpool.Pool
}

// leaseSQL takes up to $4 tokens from the GCRA bucket of caller $1 with
// emission interval $2 (1/rate seconds) and tolerance $3 (burst×$2): with
// base = max(tat, now), the bucket holds floor((now + $3 - base) / $2)
// tokens; a grant of g moves tat to base + g×$2. A new bucket is full.
const leaseSQL = `
WITH p AS (SELECT $1::text AS caller, $2::float8 AS t, $3::float8 AS tau, $4::int AS want, $5::int AS burst,
	extract(epoch FROM now())::float8 AS now)
INSERT INTO rate_buckets AS b (caller, tat, granted)
SELECT caller, now + least(want, burst) * t, least(want, burst) FROM p
ON CONFLICT (caller) DO UPDATE SET
	granted = (SELECT greatest(0, least(want, floor((now + tau - greatest(b.tat, now)) / t + 1e-9)))::int FROM p),
	tat = (SELECT greatest(b.tat, now) + t * greatest(0, least(want, floor((now + tau - greatest(b.tat, now)) / t + 1e-9))) FROM p),
	updated_at = now()
RETURNING granted, tat, extract(epoch FROM now())::float8`

// Lease implements Store.
func (s PG) Lease(ctx context.Context, p LeaseParams) (Lease, error) {
	if !p.Limit.On() || p.Want < 1 {
		return Lease{}, fmt.Errorf("ratelimit: lease %d tokens under %+v", p.Want, p.Limit)
	}
	interval := 1 / p.Limit.Rate
	tau := float64(p.Limit.Burst) * interval
	var l Lease
	var tat, now float64
	if err := s.Pool.QueryRow(ctx, leaseSQL, p.Caller, interval, tau, p.Want, p.Limit.Burst).
		Scan(&l.Granted, &tat, &now); err != nil {
		return Lease{}, fmt.Errorf("ratelimit: lease from rate_buckets: %w", err)
	}
	if rand.IntN(pruneEvery) == 0 {
		// Best effort: a failed prune leaves rows for the next one.
		_, _ = s.Prune(ctx, pruneBatch)
	}
	l.Remaining = max(0, int(math.Floor((now+tau-tat)/interval+1e-9)))
	l.Reset = seconds(max(0, tat-now))
	if l.Granted == 0 {
		l.RetryAfter = seconds(max(0, tat+interval-tau-now))
	}
	return l, nil
}

// pruneEvery is how many leases, on average, come to one Prune of
// pruneBatch rows: rate_buckets would otherwise keep a row for every
// caller ever seen.
const (
	pruneEvery = 1000
	pruneBatch = 1000
)

// Prune deletes up to n buckets that are full again (tat at or before
// the database's now) and returns how many it deleted. A full bucket's
// row says nothing a missing row does not (a new bucket starts full), so
// pruning never changes a decision; a row that a concurrent lease moves
// past now is not deleted (Postgres re-checks the condition on the
// locked row).
func (s PG) Prune(ctx context.Context, n int) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM rate_buckets WHERE caller IN (
		SELECT caller FROM rate_buckets WHERE tat <= extract(epoch FROM now()) LIMIT $1)
		AND tat <= extract(epoch FROM now())`, n)
	if err != nil {
		return 0, fmt.Errorf("ratelimit: prune rate_buckets: %w", err)
	}
	return tag.RowsAffected(), nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
