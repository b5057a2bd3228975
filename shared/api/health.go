package api

import (
	"context"
	"net/http"
	"time"

	"github.com/jobweaver/jobweaver/shared/apierror"
)

// healthTimeout bounds the database ping of a health check.
const healthTimeout = 2 * time.Second

// Health is the actuator-style health body.
type Health struct {
	Status     string                     `json:"status"`
	Components map[string]ComponentHealth `json:"components"`
}

// ComponentHealth is one dependency's health.
type ComponentHealth struct {
	Status string `json:"status"`
}

// health is GET /health and GET /actuator/health: UP (200) when the
// database answers a ping, else DOWN (503).
func (s *Service) health(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	status, code := "UP", http.StatusOK
	if err := s.pool.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "health: database does not answer", "error", err.Error())
		status, code = "DOWN", http.StatusServiceUnavailable
	}
	apierror.WriteJSON(w, code, Health{Status: status, Components: map[string]ComponentHealth{"db": {Status: status}}})
	return nil
}
