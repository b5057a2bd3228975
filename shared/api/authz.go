package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/auth"
)

// The modes of API_AUTH.
const (
	// AuthNone lets every request through as auth.Anonymous with every
	// right (make run's default until access control is on everywhere).
	AuthNone = "none"
	// AuthKeys asks every route but the health checks for an API key
	// (Authorization: Bearer jw_...) whose role is enough (auth.Required).
	AuthKeys = "keys"
)

// Key cache TTL bounds (API_KEY_CACHE_TTL).
const (
	DefaultKeyCacheTTL = 10 * time.Second
	MaxKeyCacheTTL     = 10 * time.Second
)

// wwwAuthenticate is the challenge of every 401.
const wwwAuthenticate = `Bearer realm="jobweaver"`

func unauthenticated(w http.ResponseWriter, message string, presented bool) *apierror.Error {
	challenge := wwwAuthenticate
	if presented {
		challenge += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	return apierror.New(http.StatusUnauthorized, "API.UNAUTHENTICATED", message)
}

// authorize wraps the handler of the route pattern names: with
// API_AUTH=keys the request needs a key with at least the route's role
// (auth.Required); the caller goes into the request's context
// (auth.CallerOf) either way.
func (s *Service) authorize(pattern string, h http.Handler) http.Handler {
	need := auth.Required(pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Auth != AuthKeys {
			h.ServeHTTP(w, r.WithContext(auth.WithCaller(r.Context(), auth.Caller{ID: auth.Anonymous, Role: auth.Admin})))
			return
		}
		if need == auth.Open {
			h.ServeHTTP(w, r)
			return
		}
		c, err := s.authenticate(w, r)
		if err != nil {
			apierror.Write(w, r, s.log, namespace, err)
			return
		}
		if ri, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			ri.caller = c.ID
		}
		if !c.Role.Allows(need) {
			apierror.Write(w, r, s.log, namespace, apierror.New(http.StatusForbidden, "API.FORBIDDEN",
				"this route needs the "+need.String()+" role or higher; the key has "+c.Role.String()))
			return
		}
		h.ServeHTTP(w, r.WithContext(auth.WithCaller(r.Context(), c)))
	})
}

// authenticate finds the caller of r from its Authorization header.
func (s *Service) authenticate(w http.ResponseWriter, r *http.Request) (auth.Caller, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return auth.Caller{}, unauthenticated(w, "this route needs an API key: send Authorization: Bearer <key>", false)
	}
	scheme, key, _ := strings.Cut(header, " ")
	key = strings.TrimSpace(key)
	if !strings.EqualFold(scheme, "Bearer") || key == "" {
		return auth.Caller{}, unauthenticated(w, "the Authorization header must be Bearer <key>", true)
	}
	if !auth.Valid(key) {
		return auth.Caller{}, unauthenticated(w, "the API key is malformed or its checksum is wrong", true)
	}
	h := auth.Hash(key)
	rec, err := s.keys.lookup(r.Context(), s.pool, h)
	if err != nil {
		return auth.Caller{}, err
	}
	now := time.Now()
	switch {
	case rec == nil || !auth.Equal(rec.hash, h):
		return auth.Caller{}, unauthenticated(w, "unknown API key", true)
	case rec.revokedAt != nil:
		return auth.Caller{}, unauthenticated(w, "the API key is revoked", true)
	case rec.expiresAt != nil && !now.Before(*rec.expiresAt):
		return auth.Caller{}, unauthenticated(w, "the API key expired", true)
	}
	s.touch(r.Context(), rec.id)
	return auth.Caller{ID: rec.id, Role: rec.role}, nil
}
