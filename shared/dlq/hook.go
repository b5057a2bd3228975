package dlq

import (
	"context"
	"time"
)

// entriesStored is the hook point for what follows a new entry
// (notifications: DLQ_WEBHOOK_URL, SNS). store calls it once per stored
// batch (Kafka dead letters and mapping failures alike), after the
// batch's transaction committed, with the rows stored for the first time
// (a redelivery stores nothing and calls nothing). Each function in
// s.onStored gets the new entries as summaries (no job payload, no raw
// record value). A hook must not block for long: the batch's invocation
// waits for it; and it must not fail the batch (the entries are stored).
func (s *Service) entriesStored(ctx context.Context, rows []row, stored map[string]bool) {
	if len(s.onStored) == 0 || len(stored) == 0 {
		return
	}
	now := time.Now().UTC()
	entries := make([]Entry, 0, len(stored))
	for _, r := range rows {
		if !stored[r.eventID] {
			continue
		}
		e := Entry{ID: r.eventID, JobID: r.jobID, TraceID: r.traceID, JobType: r.jobType, Reason: r.reason,
			ErrorCode: r.errorCode, LastError: r.lastError, Status: StatusNew, ReceivedAt: now}
		if !r.failedAt.IsZero() {
			t := r.failedAt.UTC()
			e.FailedAt = &t
		}
		entries = append(entries, e)
	}
	for _, h := range s.onStored {
		h(ctx, entries)
	}
}
