package dlq

import (
	"fmt"
	"strings"

	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// Filter selects entries (the list's filters; a bulk operation's).
type Filter = internalapi.DLQFilter

// where returns the SQL conditions of f, joined by AND ("TRUE" for none),
// with their arguments numbered from $first. Each equality has an index
// in the list's order (migration 00005).
func where(f Filter, first int) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, first+len(args)-1))
	}
	if f.Status != "" {
		add("status = $%d", f.Status)
	}
	if f.JobType != "" {
		add("job_type = $%d", f.JobType)
	}
	if f.ErrorCode != "" {
		add("error_code = $%d", f.ErrorCode)
	}
	if f.Reason != "" {
		add("reason = $%d", f.Reason)
	}
	if f.TraceID != "" {
		add("trace_id = $%d", f.TraceID)
	}
	if f.From != nil {
		add("failed_at >= $%d", *f.From)
	}
	if f.To != nil {
		add("failed_at < $%d", *f.To)
	}
	if len(conds) == 0 {
		return "TRUE", nil
	}
	return strings.Join(conds, " AND "), args
}
