package dlq

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// maxOpsBody bounds a management request's body (1000 IDs fit easily).
const maxOpsBody = 256 << 10

// decodeBody reads a JSON body strictly into v; an empty body leaves v as
// it is.
func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxOpsBody+1))
	if err != nil {
		return apierror.New(http.StatusBadRequest, "DLQ.INVALID_REQUEST", "the body could not be read")
	}
	if len(b) > maxOpsBody {
		return apierror.New(http.StatusRequestEntityTooLarge, "DLQ.BODY_TOO_LARGE", fmt.Sprintf("the body is over %d bytes", maxOpsBody))
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apierror.New(http.StatusBadRequest, "DLQ.INVALID_REQUEST", "the body is not a valid request: "+err.Error())
	}
	return nil
}

// pathID reads the {id} wildcard as a UUID.
func pathID(r *http.Request, what string) (string, error) {
	raw := r.PathValue("id")
	id, err := uuid.Parse(raw)
	if err != nil {
		return "", apierror.New(http.StatusBadRequest, "DLQ.INVALID_REQUEST", fmt.Sprintf("%s id must be a UUID (got %q)", what, raw))
	}
	return id.String(), nil
}

// action serves POST /internal/dlq/{id}/retry and /dismiss.
func (s *Service) action(w http.ResponseWriter, r *http.Request, okStatus int,
	do func(s *Service, r *http.Request, id, by string) (internalapi.ActionResponse, error)) {
	id, err := pathID(r, "dead-letter")
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	var req internalapi.ActionRequest
	if err := decodeBody(r, &req); err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	if req.By == "" {
		req.By = "anonymous"
	}
	resp, err := do(s, r, id, req.By)
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	httpjson.Write(w, okStatus, resp)
}

func (s *Service) retry(w http.ResponseWriter, r *http.Request) {
	s.action(w, r, http.StatusAccepted, func(s *Service, r *http.Request, id, by string) (internalapi.ActionResponse, error) {
		return s.Retry(r.Context(), id, by)
	})
}

func (s *Service) dismiss(w http.ResponseWriter, r *http.Request) {
	s.action(w, r, http.StatusOK, func(s *Service, r *http.Request, id, by string) (internalapi.ActionResponse, error) {
		return s.Dismiss(r.Context(), id, by)
	})
}

func (s *Service) createOperation(w http.ResponseWriter, r *http.Request) {
	var req internalapi.OperationRequest
	if err := decodeBody(r, &req); err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	if req.By == "" {
		req.By = "anonymous"
	}
	id, err := s.CreateOperation(r.Context(), req)
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	httpjson.Write(w, http.StatusAccepted, internalapi.OperationCreated{OperationID: id})
}

func (s *Service) getOperation(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "operation")
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	op, err := s.GetOperation(r.Context(), id)
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	httpjson.Write(w, http.StatusOK, op)
}

// maintain serves POST /internal/dlq/maintain. It answers 200 with what
// it did even when a step failed (logged): the next call tries again.
func (s *Service) maintain(w http.ResponseWriter, r *http.Request) {
	res, err := s.Maintain(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "dlq maintenance failed", "error", err.Error())
	}
	httpjson.Write(w, http.StatusOK, res)
}
