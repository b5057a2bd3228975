package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/jwttest"
)

const testAudience = "jobweaver-test-client"

// jwtBundle is a service with API_AUTH=jwt over a local issuer, with a
// scope mapping.
func jwtBundle(t *testing.T, issuer string) *bundle {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Auth, cfg.JWTIssuer, cfg.JWTAudience = AuthJWT, issuer, testAudience
	cfg.JWTScopeRoles = "jobweaver/read=viewer,jobweaver/write=operator"
	return setup(t, cfg)
}

// TestJWT sends tokens of every kind to a viewer route (GET /api/jobs/{id}),
// an operator route (DELETE /api/jobs/{id}), both 404 once through (the
// job does not exist), and an admin route (GET /api/keys).
func TestJWT(t *testing.T) {
	iss := jwttest.New(t)
	b := jwtBundle(t, iss.URL)
	other := jwttest.NewKey(t)
	now := time.Now()
	groups := func(g ...string) map[string]any { return map[string]any{"cognito:groups": g} }
	valid := func(sub string, extra map[string]any) string {
		return iss.Sign(t, iss.Claims(sub, testAudience, extra))
	}

	const (
		viewerRoute   = "/api/jobs/01900000-0000-7000-8000-000000000000"
		operatorRoute = "/api/jobs/01900000-0000-7000-8000-000000000000"
	)
	for _, tc := range []struct {
		name  string
		token string
		// want: status of GET viewerRoute (404 once through), DELETE operatorRoute, GET /api/keys.
		viewer, operator, admin int
		msg                     string // in the 401/403 message of the viewer route
	}{
		{"viewer group", valid("u-viewer", groups("viewer")), 404, 403, 403, ""},
		{"operator group", valid("u-op", groups("operator")), 404, 404, 403, ""},
		{"admin group", valid("u-admin", groups("admin")), 404, 404, 200, ""},
		{"highest group wins", valid("u-many", groups("viewer", "admin", "unrelated")), 404, 404, 200, ""},
		{"group as a string", valid("u-str", map[string]any{"cognito:groups": "operator"}), 404, 404, 403, ""},
		{"read scope", valid("client-r", map[string]any{"scope": "jobweaver/read"}), 404, 403, 403, ""},
		{"write scope", valid("client-w", map[string]any{"scope": "jobweaver/read jobweaver/write"}), 404, 404, 403, ""},
		{"cognito access token: client_id, no aud", valid("client-c", map[string]any{"aud": nil, "client_id": testAudience, "scope": "jobweaver/write"}), 404, 404, 403, ""},
		{"no role claim", valid("u-none", nil), 403, 403, 403, "no role"},
		{"unknown group and scope", valid("u-x", map[string]any{"cognito:groups": []string{"staff"}, "scope": "openid"}), 403, 403, 403, "no role"},
		{"wrong signature", jwttest.SignWith(t, other, iss.KeyID, iss.Claims("u", testAudience, groups("admin"))), 401, 401, 401, "signature"},
		{"unknown key ID", jwttest.SignWith(t, other, "other-kid", iss.Claims("u", testAudience, groups("admin"))), 401, 401, 401, "signature"},
		{"wrong issuer", valid("u", map[string]any{"iss": "https://evil.example", "cognito:groups": []string{"admin"}}), 401, 401, 401, "different provider"},
		{"wrong audience", valid("u", map[string]any{"aud": "someone-else", "cognito:groups": []string{"admin"}}), 401, 401, 401, "audience"},
		{"client_id but wrong aud", valid("u", map[string]any{"aud": "someone-else", "client_id": testAudience, "cognito:groups": []string{"admin"}}), 401, 401, 401, "audience"},
		{"expired", valid("u", map[string]any{"exp": now.Add(-time.Minute).Unix(), "cognito:groups": []string{"admin"}}), 401, 401, 401, "expired"},
		{"not yet valid", valid("u", map[string]any{"nbf": now.Add(time.Hour).Unix(), "cognito:groups": []string{"admin"}}), 401, 401, 401, "nbf"},
		{"alg none", jwttest.Unsigned(t, iss.Claims("u", testAudience, groups("admin"))), 401, 401, 401, "malformed"},
		{"no sub", valid("", groups("admin")), 401, 401, 401, "sub"},
		{"garbage", "not.a.jwt", 401, 401, 401, "malformed"},
		{"an API key in jwt mode", mustKey(t), 401, 401, 401, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range []struct {
				method, target string
				want           int
			}{
				{http.MethodGet, viewerRoute, tc.viewer},
				{http.MethodDelete, operatorRoute, tc.operator},
				{http.MethodGet, "/api/keys", tc.admin},
			} {
				w := b.do(c.method, c.target, "", bearer(tc.token)...)
				if w.Code != c.want {
					t.Fatalf("%s %s = %d, want %d; %s", c.method, c.target, w.Code, c.want, w.Body)
				}
				var e errorBody
				switch w.Code {
				case http.StatusUnauthorized:
					e = wantError(t, w, w.Code, "API.UNAUTHENTICATED")
					if h := w.Header().Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
						t.Errorf("WWW-Authenticate %q", h)
					}
				case http.StatusForbidden:
					e = wantError(t, w, w.Code, "API.FORBIDDEN")
				}
				if c.target == viewerRoute && tc.msg != "" && !strings.Contains(e.Message, tc.msg) {
					t.Errorf("message %q does not say %q", e.Message, tc.msg)
				}
			}
		})
	}
}

func mustKey(t *testing.T) string {
	k, err := auth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestJWTIssuerUnavailable: an issuer that is down at start does not
// stop the service (discovery is lazy); a token then gets 503
// API.AUTH_UNAVAILABLE, not 401, and works once the issuer is back. A
// token naming a key not in the cached JWKS while the issuer is down is
// a 503 too.
func TestJWTIssuerUnavailable(t *testing.T) {
	iss := jwttest.New(t)
	viewer := map[string]any{"cognito:groups": []string{"viewer"}}
	token := iss.Sign(t, iss.Claims("u-late", testAudience, viewer))
	iss.SetDown(true)
	b := jwtBundle(t, iss.URL)

	const route = "/api/jobs/01900000-0000-7000-8000-000000000000" // viewer; 404 once through
	w := b.do(http.MethodGet, route, "", bearer(token)...)
	wantError(t, w, http.StatusServiceUnavailable, "API.AUTH_UNAVAILABLE")
	if w.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	// No credentials at all is still a 401, whatever the issuer.
	wantError(t, b.do(http.MethodGet, route, ""), http.StatusUnauthorized, "API.UNAUTHENTICATED")

	iss.SetDown(false)
	if w := b.do(http.MethodGet, route, "", bearer(token)...); w.Code != http.StatusNotFound {
		t.Fatalf("with the issuer up: %d %s", w.Code, w.Body)
	}

	// Down again: the cached key still checks known tokens; a token
	// signed by a key the cache lacks needs the JWKS, so 503.
	iss.SetDown(true)
	if w := b.do(http.MethodGet, route, "", bearer(token)...); w.Code != http.StatusNotFound {
		t.Fatalf("cached key, issuer down: %d %s", w.Code, w.Body)
	}
	rotated := jwttest.SignWith(t, jwttest.NewKey(t), "rotated-kid", iss.Claims("u-late", testAudience, viewer))
	wantError(t, b.do(http.MethodGet, route, "", bearer(rotated)...), http.StatusServiceUnavailable, "API.AUTH_UNAVAILABLE")
}
