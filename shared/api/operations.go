package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
)

// getOperation is GET /api/operations/{id}: a bulk operation's progress,
// as the dlq function keeps it.
func (s *Service) getOperation(w http.ResponseWriter, r *http.Request) error {
	raw := r.PathValue("id")
	id, err := uuid.Parse(raw)
	if err != nil {
		return badRequest("operation id must be a UUID (got %q)", raw)
	}
	ctx := r.Context()
	path := internalapi.OperationPath(id.String())
	status, body, err := s.call(ctx, invoke.DLQ, http.MethodGet, path, nil, nil)
	if err != nil {
		return s.unavailable(ctx, invoke.DLQ, path, 0, nil, err)
	}
	if status != http.StatusOK {
		return s.relayError(r, path, status, body)
	}
	var op internalapi.Operation
	if err := json.Unmarshal(body, &op); err != nil || op.OperationID == "" {
		return s.unavailable(ctx, invoke.DLQ, path, status, body, fmt.Errorf("undecodable response: %v", err))
	}
	httpjson.Write(w, http.StatusOK, op)
	return nil
}
