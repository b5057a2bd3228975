package pgdb

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/httpjson"
)

// HealthTimeout bounds the database ping of a health check.
const HealthTimeout = 2 * time.Second

// Health is the actuator-style health body every function answers on
// GET /health and GET /actuator/health:
// {"status":"UP","components":{"db":{"status":"UP"}}}.
type Health struct {
	Status     string                     `json:"status"`
	Components map[string]ComponentHealth `json:"components"`
}

// ComponentHealth is one dependency's health.
type ComponentHealth struct {
	Status string `json:"status"`
}

// HealthHandler answers a health check: 200 with status UP when the
// pool's database answers a ping within HealthTimeout, else 503 with
// status DOWN (and a warning in log).
func HealthHandler(pool *pgxpool.Pool, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), HealthTimeout)
		defer cancel()
		status, code := "UP", http.StatusOK
		if err := pool.Ping(ctx); err != nil {
			log.WarnContext(ctx, "health: database does not answer", "error", err.Error())
			status, code = "DOWN", http.StatusServiceUnavailable
		}
		httpjson.Write(w, code, Health{Status: status, Components: map[string]ComponentHealth{"db": {Status: status}}})
	}
}
