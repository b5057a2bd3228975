package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/httpjson"
)

// Whoami is GET /api/whoami's answer: who the caller is, its role and the
// api's API_AUTH mode, so that a client (the console) can sign in with a
// key or a JWT and show only what the role may do.
type Whoami struct {
	// Caller is the key's ID, "jwt:" + the token's sub, or "anonymous"
	// with API_AUTH=none.
	Caller string `json:"caller"`
	// Role is viewer, operator or admin (admin with API_AUTH=none).
	Role string `json:"role"`
	// Auth is API_AUTH: none, keys, jwt or keys,jwt.
	Auth string `json:"auth"`
	// Name is the key's name; absent for a JWT or with API_AUTH=none.
	Name string `json:"name,omitempty"`
}

// whoami answers the caller the authorization layer found (any role may
// ask; with API_AUTH=none it is the anonymous admin).
func (s *Service) whoami(w http.ResponseWriter, r *http.Request) error {
	c := auth.CallerOf(r.Context())
	out := Whoami{Caller: c.ID, Role: c.Role.String(), Auth: s.cfg.Auth}
	if s.cfg.Auth != AuthNone && c.ID != auth.Anonymous && !strings.HasPrefix(c.ID, "jwt:") {
		name, err := s.keyName(r, c.ID)
		if err != nil {
			return err
		}
		out.Name = name
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// keyName reads the name of the key whose ID is id ("" if it is gone).
func (s *Service) keyName(r *http.Request, id string) (string, error) {
	var name string
	err := s.pool.QueryRow(r.Context(), `SELECT name FROM api_keys WHERE id = $1`, id).Scan(&name)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read the API key's name: %w", err)
	}
	return name, nil
}
