package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/paging"
)

// listDeadLetters is GET /api/dlq, answered by the dlq function. Entries
// are relayed as the dlq function shapes them (summaries: dlq.ListFiltered),
// newest first; the filters (status, jobType, errorCode, reason, traceId,
// from, to: a failedAt range) are checked here and passed on; a page
// starts at page*size or, with a cursor, after the entry it names.
func (s *Service) listDeadLetters(w http.ResponseWriter, r *http.Request) error {
	pr, err := paging.Parse(r.URL.Query(), s.cfg.DefaultPageSize, s.cfg.PageSizeMax, namespace)
	if err != nil {
		return err
	}
	after, err := paging.ParseCursor(r.URL.Query(), namespace)
	if err != nil {
		return err
	}
	f, err := internalapi.ParseDLQFilter(r.URL.Query())
	if err != nil {
		return filterError(err, "")
	}
	fwd := f.Query()
	fwd.Set("size", strconv.Itoa(pr.Size))
	if after != nil {
		fwd.Set("cursor", after.Encode())
	} else {
		fwd.Set("page", strconv.Itoa(pr.Page))
	}
	ctx := r.Context()
	const path = internalapi.PathDeadLetters
	status, body, err := s.call(ctx, invoke.DLQ, http.MethodGet, path, fwd, nil)
	if err != nil {
		return s.unavailable(ctx, invoke.DLQ, path, 0, nil, err)
	}
	var page paging.Page[json.RawMessage]
	if err := s.decodeOK(ctx, invoke.DLQ, path, status, body, &page); err != nil {
		return err
	}
	if page.Content == nil {
		page.Content = []json.RawMessage{}
	}
	httpjson.Write(w, http.StatusOK, page)
	return nil
}

// getDeadLetter is GET /api/dlq/{id}; the id is the dead-lettered event's
// ID.
func (s *Service) getDeadLetter(w http.ResponseWriter, r *http.Request) error {
	raw := r.PathValue("id")
	id, err := uuid.Parse(raw)
	if err != nil {
		return badRequest("dead-letter id must be a UUID (got %q)", raw)
	}
	ctx := r.Context()
	path := internalapi.DeadLetterPath(id.String())
	status, body, err := s.call(ctx, invoke.DLQ, http.MethodGet, path, nil, nil)
	if err != nil {
		return s.unavailable(ctx, invoke.DLQ, path, 0, nil, err)
	}
	if status == http.StatusNotFound {
		return apierror.New(http.StatusNotFound, "API.DLQ_ENTRY_NOT_FOUND", fmt.Sprintf("no dead-letter entry with id %s", id))
	}
	var entry json.RawMessage
	if err := s.decodeOK(ctx, invoke.DLQ, path, status, body, &entry); err != nil {
		return err
	}
	if t := bytes.TrimSpace(entry); len(t) == 0 || t[0] != '{' {
		return s.unavailable(ctx, invoke.DLQ, path, status, body, fmt.Errorf("response is not a JSON object"))
	}
	httpjson.Write(w, http.StatusOK, entry)
	return nil
}
