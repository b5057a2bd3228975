package paging

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CountCap is how many rows Count counts exactly before it estimates.
const CountCap = 10_000

// Querier runs a query that returns one row: a pool or a transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Count counts the rows of `SELECT 1 FROM <from>` (from is a table and its
// WHERE clause, with args), exactly up to limit. Beyond it the count is
// the planner's estimate for the query (at least limit+1), and estimate is
// true: a count of every matching row would read them all.
func Count(ctx context.Context, q Querier, from string, args []any, limit int) (n int64, estimate bool, err error) {
	lim := fmt.Sprintf(" LIMIT %d", limit+1)
	if err := q.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM `+from+lim+`) c`, args...).Scan(&n); err != nil {
		return 0, false, fmt.Errorf("count: %w", err)
	}
	if n <= int64(limit) {
		return n, false, nil
	}
	var plan []byte
	if err := q.QueryRow(ctx, `EXPLAIN (FORMAT JSON) SELECT 1 FROM `+from, args...).Scan(&plan); err != nil {
		return 0, false, fmt.Errorf("estimate count: %w", err)
	}
	var out []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &out); err != nil || len(out) == 0 {
		return 0, false, fmt.Errorf("estimate count: unexpected plan %.200s", plan)
	}
	return max(int64(out[0].Plan.Rows), int64(limit)+1), true, nil
}
