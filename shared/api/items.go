package api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/paging"
)

// Item is one finished item of a BATCH_PROCESS job, as
// GET /api/jobs/{id}/items pages them (docs/job-types.md, BATCH_PROCESS).
type Item = internalapi.Item

// listItems is GET /api/jobs/{id}/items?limit=&cursor=&status=: a
// BATCH_PROCESS job's finished items by index, answered by the worker,
// which keeps them. limit defaults to the default page size and is capped
// at PageSizeMax; nextCursor continues after the page's last item. page is
// always 0: follow nextCursor. A job of another type, or one whose items
// have not started, has none.
func (s *Service) listItems(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := min(s.cfg.DefaultPageSize, s.cfg.PageSizeMax)
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return badRequest("limit must be an integer from 1 to %d (got %q)", s.cfg.PageSizeMax, v)
		}
		limit = min(n, s.cfg.PageSizeMax)
	}
	fwd := url.Values{"limit": {strconv.Itoa(limit)}}
	if v := q.Get("cursor"); v != "" {
		if _, err := internalapi.ParseItemCursor(v); err != nil {
			return apierror.New(http.StatusBadRequest, namespace+".INVALID_CURSOR",
				"cursor "+err.Error()+"; pass a nextCursor from an earlier page unchanged, or leave cursor out to start at the first item")
		}
		fwd.Set("cursor", v)
	}
	if v := q.Get("status"); v != "" {
		if v != internalapi.ItemSucceeded && v != internalapi.ItemFailed {
			return badRequest("status must be SUCCEEDED or FAILED (got %q)", v)
		}
		fwd.Set("status", v)
	}
	r, sub, err := s.jobRequest(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	path := internalapi.ItemsPath(sub.ID)
	status, body, err := s.call(ctx, invoke.Worker, http.MethodGet, path, fwd, nil)
	if err != nil {
		return s.unavailable(ctx, invoke.Worker, path, 0, nil, err)
	}
	if status == http.StatusNotFound {
		// A worker without the route: no items to show.
		httpjson.Write(w, http.StatusOK, paging.New[Item](nil, 0, limit, 0))
		return nil
	}
	var page paging.Page[Item]
	if err := s.decodeOK(ctx, invoke.Worker, path, status, body, &page); err != nil {
		return err
	}
	if page.Content == nil {
		page.Content = []Item{}
	}
	httpjson.Write(w, http.StatusOK, page)
	return nil
}
