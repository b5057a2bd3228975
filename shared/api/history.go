package api

import (
	"net/http"

	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
)

// JobHistory is GET /api/jobs/{id}/history: the job's lifecycle, oldest
// event first, as the scheduler derives it.
type JobHistory = internalapi.JobHistory

// HistoryEvent is one event of a JobHistory; absent fields are left out.
type HistoryEvent = internalapi.HistoryEvent

// jobHistory is GET /api/jobs/{id}/history. A job the scheduler has not
// ingested yet has one event: SUBMITTED.
func (s *Service) jobHistory(w http.ResponseWriter, r *http.Request) error {
	r, sub, err := s.jobRequest(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	path := internalapi.JobHistoryPath(sub.ID)
	status, body, err := s.call(ctx, invoke.Scheduler, http.MethodGet, path, nil, nil)
	if err != nil {
		return s.unavailable(ctx, invoke.Scheduler, path, 0, nil, err)
	}
	h := JobHistory{JobID: sub.ID}
	if status == http.StatusNotFound {
		h.Events = []HistoryEvent{{At: sub.CreatedAt.UTC(), Type: internalapi.EventSubmitted}}
		s.drain(ctx, stuckDrainTimeout)
		httpjson.Write(w, http.StatusOK, h)
		return nil
	}
	if err := s.decodeOK(ctx, invoke.Scheduler, path, status, body, &h); err != nil {
		return err
	}
	h.JobID = sub.ID
	if h.Events == nil {
		h.Events = []HistoryEvent{}
	}
	httpjson.Write(w, http.StatusOK, h)
	return nil
}
