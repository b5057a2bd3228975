package api

import (
	"net/http"

	"github.com/jobweaver/jobweaver/shared/pgdb"
)

// health is GET /health and GET /actuator/health: UP (200) when the
// database answers a ping, else DOWN (503), in the body every function
// answers (pgdb.HealthHandler).
func (s *Service) health(w http.ResponseWriter, r *http.Request) error {
	pgdb.HealthHandler(s.pool, s.log)(w, r)
	return nil
}
