package pgdb

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// HealthHandler answers GET /health: 200 {"status":"UP"} when the pool's
// database answers within two seconds, else 503 {"status":"DOWN"}.
func HealthHandler(pool *pgxpool.Pool, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status, code := "UP", http.StatusOK
		if err := pool.Ping(ctx); err != nil {
			log.WarnContext(ctx, "health: database does not answer", "error", err.Error())
			status, code = "DOWN", http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": status})
	}
}
