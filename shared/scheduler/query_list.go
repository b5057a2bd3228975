package scheduler

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/paging"
)

// MaxListErrorLen is how many characters of a job's last error a list
// item carries; GET internalapi.PathJobStatus has all of it.
const MaxListErrorLen = 512

// jobSummaryColumns read a job row aliased j (see jobStatusColumns).
var jobSummaryColumns = `j.id::text, job_type, max_retry_count, trace_id, status, attempts,
	left(last_error, ` + strconv.Itoa(MaxListErrorLen) + `), coalesce(length(last_error) > ` + strconv.Itoa(MaxListErrorLen) + `, false),
	last_error_code, created_at, ` + liveColumns + `, version, created_by`

func scanJobSummary(row pgx.CollectableRow) (internalapi.JobSummary, error) {
	var (
		s                      internalapi.JobSummary
		lastErr, code          *string
		next                   time.Time
		lease, started, finish *time.Time
	)
	if err := row.Scan(&s.JobID, &s.JobType, &s.MaxRetryCount, &s.TraceID, &s.Status, &s.Attempts,
		&lastErr, &s.Truncated, &code, &s.CreatedAt, &started, &finish, &s.UpdatedAt, &next, &lease, &s.Version, &s.CreatedBy); err != nil {
		return s, err
	}
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	s.LastError, s.LastErrorCode, s.StartedAt, s.FinishedAt, s.NextRunAt, s.LeaseUntil =
		liveFields(s.Status, lastErr, code, started, finish, next, lease)
	s.WaitingUntil = waitingUntil(s.Status, next)
	return s, nil
}

// jobFilter narrows a job list; zero fields do not filter.
type jobFilter struct {
	JobType, Status, TraceID string
	CreatedBy                string     // the submitting caller
	CreatedFrom, CreatedTo   *time.Time // both inclusive
	// UpdatedSince keeps jobs updated at or after it and orders the list
	// by updated_at (newest first) instead of created_at.
	UpdatedSince *time.Time
}

// order is the list's sort column.
func (f jobFilter) order() string {
	if f.UpdatedSince != nil {
		return "updated_at"
	}
	return "created_at"
}

// UpdatedSinceOverlap is how far before the list's own time its asOf is:
// the next updatedSince. A job's updated_at is its transaction's start
// (now()), and it becomes visible only at commit, so a change committed
// after this list was read may carry a time before the list's; every
// scheduler transaction that updates jobs is far shorter than this. A
// change within the overlap is listed again by the next poll: clients
// merge by jobId.
const UpdatedSinceOverlap = 5 * time.Second

// asOfHold is how long an idle poll's asOf may stay its updatedSince:
// when nothing matched, asOf repeats updatedSince (so the answer, and its
// ETag, stays the same and a client's poll gets 304), unless that is more
// than asOfHold older than the overlap, which would make every later poll
// scan changes it does not show.
const asOfHold = time.Minute

// asOf is the updatedSince to pass next, given the database's time at the
// start of the list and whether the list was empty.
func asOf(now, since time.Time, empty bool) time.Time {
	t := now.Add(-UpdatedSinceOverlap)
	if empty && !since.After(t) && since.After(t.Add(-asOfHold)) {
		return since
	}
	return t
}

// conds returns the filter's conditions (parameters numbered from $1)
// and their arguments.
func (f jobFilter) conds() ([]string, []any) {
	var (
		conds []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.JobType != "" {
		add("job_type = $?", f.JobType)
	}
	if f.Status != "" {
		add("status = $?", f.Status)
	}
	if f.TraceID != "" {
		add("trace_id = $?", f.TraceID)
	}
	if f.CreatedBy != "" {
		add("created_by = $?", f.CreatedBy)
	}
	if f.CreatedFrom != nil {
		add("created_at >= $?", *f.CreatedFrom)
	}
	if f.CreatedTo != nil {
		add("created_at <= $?", *f.CreatedTo)
	}
	if f.UpdatedSince != nil {
		add("updated_at >= $?", *f.UpdatedSince)
	}
	return conds, args
}

func where(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// jobListQuery is one page request of the job list: either an offset
// (page numbers) or a keyset cursor.
type jobListQuery struct {
	Filter jobFilter
	Limit  int
	Offset int
	After  *paging.Cursor // nil: use Offset
}

// jobListResult is a page of job summaries.
type jobListResult struct {
	Jobs          []internalapi.JobSummary
	Total         int64
	TotalEstimate bool           // Total is the planner's estimate
	Next          *paging.Cursor // after the last of Jobs; nil on the last page
	AsOf          *time.Time     // with Filter.UpdatedSince: the next updatedSince
}

// jobListPage returns one page of jobs matching the filter, newest first
// (ties broken by ID, so pages are stable), with how many match in all:
// exact up to paging.CountCap, else estimated. The page reads at most
// Limit+1 rows, found through an index (OFFSET still walks the index
// entries it skips; a cursor does not), and is cut short when its JSON
// would pass paging.MaxPageBytes; Next then continues where it stopped.
func jobListPage(ctx context.Context, q querier, lq jobListQuery) (res jobListResult, err error) {
	conds, args := lq.Filter.conds()
	var now time.Time
	if lq.Filter.UpdatedSince != nil {
		// Before the list's reads: whatever committed before it is seen.
		if err := q.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
			return res, fmt.Errorf("scheduler: read the time: %w", err)
		}
		defer func() { // on every return, with the page it returns
			t := asOf(now, *lq.Filter.UpdatedSince, len(res.Jobs) == 0).UTC()
			res.AsOf = &t
		}()
	}
	if res.Total, res.TotalEstimate, err = paging.Count(ctx, q, "jobs"+where(conds), args, paging.CountCap); err != nil {
		return res, fmt.Errorf("scheduler: %w", err)
	}
	if res.Total == 0 || (!res.TotalEstimate && lq.After == nil && int64(lq.Offset) >= res.Total) {
		return res, nil
	}
	if lq.After != nil {
		args = append(args, lq.After.Time, lq.After.ID)
		conds = append(conds, fmt.Sprintf("(%s, id) < ($%d, $%d::uuid)", lq.Filter.order(), len(args)-1, len(args)))
	}
	// The page's IDs first, from the index alone (each list index holds
	// created_at and id, so OFFSET skips index entries, not table rows),
	// then only those rows.
	args = append(args, lq.Limit+1)
	order := ` ORDER BY ` + lq.Filter.order() + ` DESC, id DESC`
	ids := `SELECT id FROM jobs` + where(conds) + order + ` LIMIT $` + strconv.Itoa(len(args))
	if lq.After == nil {
		args = append(args, lq.Offset)
		ids += ` OFFSET $` + strconv.Itoa(len(args))
	}
	sql := `SELECT ` + jobSummaryColumns + ` FROM jobs j WHERE j.id IN (` + ids + `)` + order
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return res, fmt.Errorf("scheduler: list jobs: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanJobSummary)
	if err != nil {
		return res, fmt.Errorf("scheduler: list jobs: %w", err)
	}
	more := len(list) > lq.Limit
	if more {
		list = list[:lq.Limit]
	}
	if n := paging.Fit(list, paging.MaxPageBytes); n < len(list) {
		list, more = list[:n], true
	}
	if more && len(list) > 0 {
		last := list[len(list)-1]
		res.Next = &paging.Cursor{Time: last.CreatedAt, ID: last.JobID}
		if lq.Filter.UpdatedSince != nil {
			res.Next.Time = last.UpdatedAt
		}
	}
	res.Jobs = list
	return res, nil
}
