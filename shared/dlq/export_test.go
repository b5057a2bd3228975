package dlq

import (
	"context"
	"fmt"
	"time"

	"github.com/jobweaver/jobweaver/shared/paging"
)

// ListQuery is one query a filtered list runs.
type ListQuery struct {
	Name, SQL string
	Args      []any
}

// ListQueries returns the queries ListFiltered runs for f: the capped
// count, a page by offset and a page after the cursor (cur, a zero ID).
// (Beyond the cap, Count also plans the uncapped query for its row
// estimate, but never runs it.)
func ListQueries(f Filter, size int, cur time.Time) []ListQuery {
	cond, args := where(f, 1)
	n := len(args)
	with := func(extra ...any) []any { return append(append([]any(nil), args...), extra...) }
	return []ListQuery{
		{"count", fmt.Sprintf(`SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %d) c`, countFrom(cond), paging.CountCap+1), with()},
		{"page", listSQL(cond, n, false), with(size+1, 0)},
		{"cursor", listSQL(cond, n, true), with(size+1, cur, "00000000-0000-0000-0000-000000000000")},
	}
}

// OnStored adds a hook that entriesStored calls (as notifications do).
func (s *Service) OnStored(h func(context.Context, []Entry)) { s.onStored = append(s.onStored, h) }
