package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/strictjson"
)

// dlqCodes maps the dlq's refusals to the api's codes.
var dlqCodes = map[string]string{
	"DLQ.ENTRY_NOT_FOUND":       "API.DLQ_ENTRY_NOT_FOUND",
	"DLQ.ENTRY_NOT_NEW":         "API.DLQ_ENTRY_NOT_NEW",
	"DLQ.ENTRY_NOT_RETRYABLE":   "API.DLQ_ENTRY_NOT_RETRYABLE",
	"DLQ.OPERATION_NOT_FOUND":   "API.OPERATION_NOT_FOUND",
	"DLQ.SCHEDULER_UNAVAILABLE": "API.SCHEDULER_UNAVAILABLE",
	"DLQ.INVALID_REQUEST":       "API.INVALID_REQUEST",
}

// relayError turns a refusal of the dlq function (a 4xx, or its 503 for
// the scheduler) into the api's error, with the dlq's message and
// details; anything else is the dlq being unavailable.
func (s *Service) relayError(r *http.Request, path string, status int, body []byte) error {
	var b apierror.Body
	code, known := "", false
	if json.Unmarshal(body, &b) == nil {
		code, known = dlqCodes[b.ErrorCode]
	}
	if !known || (status >= 500 && status != http.StatusServiceUnavailable) {
		return s.unavailable(r.Context(), invoke.DLQ, path, status, body, nil)
	}
	e := apierror.New(status, code, b.Message)
	e.Details, e.JobID = b.Details, b.JobID
	return e
}

// dlqEntryID reads the {id} of a dead-letter route.
func dlqEntryID(r *http.Request) (string, error) {
	raw := r.PathValue("id")
	id, err := uuid.Parse(raw)
	if err != nil {
		return "", badRequest("dead-letter id must be a UUID (got %q)", raw)
	}
	return id.String(), nil
}

// retryDeadLetter is POST /api/dlq/{id}/retry: the dlq asks the
// scheduler to run the job again and marks the entry RETRIED (202).
func (s *Service) retryDeadLetter(w http.ResponseWriter, r *http.Request) error {
	id, err := dlqEntryID(r)
	if err != nil {
		return err
	}
	return s.dlqAction(w, r, internalapi.DeadLetterRetryPath(id), http.StatusAccepted, ActionDLQRetry)
}

// dismissDeadLetter is POST /api/dlq/{id}/dismiss: the entry becomes
// DISMISSED (200).
func (s *Service) dismissDeadLetter(w http.ResponseWriter, r *http.Request) error {
	id, err := dlqEntryID(r)
	if err != nil {
		return err
	}
	return s.dlqAction(w, r, internalapi.DeadLetterDismissPath(id), http.StatusOK, ActionDLQDismiss)
}

func (s *Service) dlqAction(w http.ResponseWriter, r *http.Request, path string, want int, action string) error {
	ctx := r.Context()
	caller := auth.CallerOf(r.Context()).ID
	body, _ := json.Marshal(internalapi.ActionRequest{By: caller})
	status, out, err := s.call(ctx, invoke.DLQ, http.MethodPost, path, nil, body)
	if err != nil {
		return s.unavailable(ctx, invoke.DLQ, path, 0, nil, err)
	}
	if status != want {
		return s.relayError(r, path, status, out)
	}
	var resp internalapi.ActionResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.DLQID == "" {
		return s.unavailable(ctx, invoke.DLQ, path, status, out, fmt.Errorf("undecodable response: %v", err))
	}
	s.log.InfoContext(ctx, "dead letter "+resp.Status, "dlqId", resp.DLQID, "jobId", resp.JobID)
	s.auditDone(ctx, caller, action, resp.DLQID, map[string]any{"jobId": resp.JobID, "status": resp.Status})
	httpjson.Write(w, want, resp)
	return nil
}

// bulkRequest is the body of POST /api/dlq/retry and /api/dlq/dismiss.
type bulkRequest struct {
	IDs    []string               `json:"ids"`
	Filter *internalapi.DLQFilter `json:"filter"`
}

// retryDeadLetters is POST /api/dlq/retry: a bulk retry (202
// {operationId}).
func (s *Service) retryDeadLetters(w http.ResponseWriter, r *http.Request) error {
	return s.bulk(w, r, internalapi.OperationRetry)
}

// dismissDeadLetters is POST /api/dlq/dismiss: a bulk dismiss (202
// {operationId}).
func (s *Service) dismissDeadLetters(w http.ResponseWriter, r *http.Request) error {
	return s.bulk(w, r, internalapi.OperationDismiss)
}

// bulk records a bulk operation in the dlq and answers 202 at once; the
// dlq's maintenance route is started asynchronously to work on it (and
// the scheduler's tick calls it too, so that it resumes after a crash).
func (s *Service) bulk(w http.ResponseWriter, r *http.Request, kind string) error {
	if err := checkJSON(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	raw, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var req bulkRequest
	const shape = `the body must be {"ids": [entry id, ...]} or {"filter": {status?, jobType?, errorCode?, reason?, traceId?, from?, to?}}`
	if err := strictjson.Decode(raw, &req); err != nil {
		return badRequest("%s: %v", shape, err)
	}
	if err := strictjson.CheckKeys(raw, strictjson.Fields(&req)); err != nil {
		return badRequest("%s: %v", shape, err)
	}
	if f := req.Filter; f != nil {
		if err := f.Check(); err != nil {
			return filterError(err, "filter.")
		}
	}
	ctx := r.Context()
	caller := auth.CallerOf(r.Context()).ID
	body, _ := json.Marshal(internalapi.OperationRequest{Kind: kind, IDs: req.IDs, Filter: req.Filter, By: caller})
	const path = internalapi.PathOperations
	status, out, err := s.call(ctx, invoke.DLQ, http.MethodPost, path, nil, body)
	if err != nil {
		return s.unavailable(ctx, invoke.DLQ, path, 0, nil, err)
	}
	if status != http.StatusAccepted {
		return s.relayError(r, path, status, out)
	}
	var created internalapi.OperationCreated
	if err := json.Unmarshal(out, &created); err != nil || created.OperationID == "" {
		return s.unavailable(ctx, invoke.DLQ, path, status, out, fmt.Errorf("undecodable response: %v", err))
	}
	action, detail := ActionDLQBulkRetry, map[string]any{}
	if kind == internalapi.OperationDismiss {
		action = ActionDLQBulkDismiss
	}
	if req.Filter != nil {
		detail["filter"] = req.Filter
	} else {
		detail["ids"] = len(req.IDs)
	}
	s.auditDone(ctx, caller, action, created.OperationID, detail)
	if err := invoke.HTTPAsync(ctx, s.inv, invoke.DLQ, http.MethodPost, internalapi.PathMaintain, nil, nil); err != nil {
		// The scheduler's next tick starts it instead.
		s.log.WarnContext(ctx, "could not start the dlq's maintenance; the next tick will", "error", err.Error())
	}
	s.log.InfoContext(ctx, "bulk operation accepted", "operationId", created.OperationID, "kind", kind)
	httpjson.Write(w, http.StatusAccepted, created)
	return nil
}

// filterError is a 400 naming a filter's bad field (prefix + field).
func filterError(err error, prefix string) error {
	var fe *internalapi.FilterError
	if errors.As(err, &fe) {
		e := badRequest("invalid filter: %s%s: %s", prefix, fe.Field, fe.Problem)
		e.Details = []string{prefix + fe.Field + ": " + fe.Problem}
		return e
	}
	return badRequest("invalid filter: %v", err)
}
