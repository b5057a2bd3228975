package api

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
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
	// AuthJWT asks for a JWT from AUTH_JWT_ISSUER instead, its role read
	// from its claims (auth.JWTVerifier).
	AuthJWT = "jwt"
	// AuthKeysJWT takes both: a bearer token starting jw_ is an API key,
	// any other a JWT.
	AuthKeysJWT = "keys,jwt"
)

// KeysOn reports whether API keys are accepted (keys or keys,jwt).
func (c Config) KeysOn() bool { return c.Auth == AuthKeys || c.Auth == AuthKeysJWT }

// JWTOn reports whether JWTs are accepted (jwt or keys,jwt).
func (c Config) JWTOn() bool { return c.Auth == AuthJWT || c.Auth == AuthKeysJWT }

// issuerURL reports whether s is an absolute http(s) URL.
func issuerURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

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
// auth on (keys, jwt or both) the request needs a key or a JWT with at
// least the route's role
// (auth.Required); the caller goes into the request's context
// (auth.CallerOf) either way. Each caller's rate limit is spent as soon
// as it is known, before the role check (ratelimit.go).
func (s *Service) authorize(pattern string, h http.Handler) http.Handler {
	need := auth.Required(pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Auth == AuthNone {
			c := auth.Caller{ID: auth.Anonymous, Role: auth.Admin}
			if s.rateLimit(w, r, need, c) {
				h.ServeHTTP(w, r.WithContext(auth.WithCaller(r.Context(), c)))
			}
			return
		}
		if need == auth.Open {
			h.ServeHTTP(w, r)
			return
		}
		if !s.authFailuresAllowed(w, r) {
			return
		}
		c, err := s.authenticate(w, r)
		if err != nil {
			s.authFailed(r, err)
			apierror.Write(w, r, s.log, namespace, err)
			return
		}
		if ri, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			ri.caller = c.ID
		}
		if !s.rateLimit(w, r, need, c) {
			return
		}
		if !c.Role.Allows(need) {
			has := "the caller has " + c.Role.String()
			if c.Role == auth.Open {
				has = "the token names no role (claim " + s.cfg.JWTRoleClaim + " or a scope of AUTH_JWT_SCOPE_ROLES)"
			}
			apierror.Write(w, r, s.log, namespace, apierror.New(http.StatusForbidden, "API.FORBIDDEN",
				"this route needs the "+need.String()+" role or higher; "+has))
			return
		}
		h.ServeHTTP(w, r.WithContext(auth.WithCaller(r.Context(), c)))
	})
}

// authenticate finds the caller of r from its Authorization header.
func (s *Service) authenticate(w http.ResponseWriter, r *http.Request) (auth.Caller, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return auth.Caller{}, unauthenticated(w, "this route needs "+s.credentialNeeded()+": send Authorization: Bearer <"+s.credential()+">", false)
	}
	scheme, key, _ := strings.Cut(header, " ")
	key = strings.TrimSpace(key)
	if !strings.EqualFold(scheme, "Bearer") || key == "" {
		return auth.Caller{}, unauthenticated(w, "the Authorization header must be Bearer <"+s.credential()+">", true)
	}
	if s.jwt != nil && (!s.cfg.KeysOn() || !strings.HasPrefix(key, auth.Prefix)) {
		return s.authenticateJWT(w, r, key)
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
	s.noteKeyLimit(rec)
	return auth.Caller{ID: rec.id, Role: rec.role}, nil
}

// credential names what a bearer token may be in this mode.
func (s *Service) credential() string {
	switch s.cfg.Auth {
	case AuthJWT:
		return "JWT"
	case AuthKeysJWT:
		return "key or JWT"
	}
	return "key"
}

// credentialNeeded is what a request without credentials lacks.
func (s *Service) credentialNeeded() string {
	switch s.cfg.Auth {
	case AuthJWT:
		return "a JWT"
	case AuthKeysJWT:
		return "an API key or a JWT"
	}
	return "an API key"
}

// authenticateJWT checks token as a JWT (auth.JWTVerifier): 401 when it
// is not valid, 503 API.AUTH_UNAVAILABLE when the issuer cannot be
// reached to check it, with Retry-After the rest of the verifier's pause
// before it tries the issuer again. A valid token without a role is a
// caller with auth.Open, refused with 403 by authorize.
func (s *Service) authenticateJWT(w http.ResponseWriter, r *http.Request, token string) (auth.Caller, error) {
	c, err := s.jwt.Verify(r.Context(), token)
	var unavailable *auth.JWTUnavailableError
	switch {
	case err == nil:
		return c, nil
	case errors.As(err, &unavailable):
		s.log.WarnContext(r.Context(), "jwt issuer unavailable", "error", err.Error())
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(unavailable.RetryAfter.Seconds())))))
		return auth.Caller{}, apierror.New(http.StatusServiceUnavailable, "API.AUTH_UNAVAILABLE",
			"the token cannot be checked now: its issuer (discovery or keys) cannot be reached; try again")
	}
	return auth.Caller{}, unauthenticated(w, err.Error(), true)
}
