package api

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/jwttest"
	"github.com/jobweaver/jobweaver/shared/testwait"
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
		{"sub of 255 characters, the most, all quotes", valid(strings.Repeat(`"`, 255), groups("admin")), 404, 404, 200, ""},
		{"sub of 256 characters", valid(strings.Repeat("s", 256), groups("admin")), 401, 401, 401, "sub claim must be at most 255"},
		{"sub with a control character", valid("u\x00", groups("admin")), 401, 401, 401, "printable ASCII"},
		{"sub not ASCII", valid("ü", groups("admin")), 401, 401, 401, "printable ASCII"},
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
// API.AUTH_UNAVAILABLE, not 401, with Retry-After the rest of the
// verifier's pause (1 s after the first failure), and a flood of tokens
// makes no more discovery requests until the pause is over; then it
// works. Once the keys are cached, a token naming a key ID they lack is a
// 401 (key unknown) without a JWKS fetch within 10 s of the last one,
// whether the issuer is up or down, and cached keys keep working while
// it is down.
func TestJWTIssuerUnavailable(t *testing.T) {
	iss := jwttest.New(t)
	viewer := map[string]any{"cognito:groups": []string{"viewer"}}
	token := iss.Sign(t, iss.Claims("u-late", testAudience, viewer))
	iss.SetDown(true)
	b := jwtBundle(t, iss.URL)

	const route = "/api/jobs/01900000-0000-7000-8000-000000000000" // viewer; 404 once through
	for range 20 {
		w := b.do(http.MethodGet, route, "", bearer(token)...)
		wantError(t, w, http.StatusServiceUnavailable, "API.AUTH_UNAVAILABLE")
		if got := w.Header().Get("Retry-After"); got != "1" {
			t.Fatalf("Retry-After = %q, want 1 (the rest of the first 1 s pause, rounded up)", got)
		}
	}
	if n := iss.Discoveries(); n != 1 {
		t.Fatalf("%d discovery requests for 20 tokens within the pause, want 1", n)
	}
	// No credentials at all is still a 401, whatever the issuer.
	wantError(t, b.do(http.MethodGet, route, ""), http.StatusUnauthorized, "API.UNAUTHENTICATED")

	// Back up: tokens keep getting 503 until the pause is over, then pass;
	// the polling costs one more discovery in all.
	iss.SetDown(false)
	testwait.Eventually(t, 5*time.Second, "the token accepted after the pause", func() bool {
		return b.do(http.MethodGet, route, "", bearer(token)...).Code == http.StatusNotFound
	})
	if n := iss.Discoveries(); n != 2 {
		t.Fatalf("%d discovery requests, want 2 (one failed, one after its pause)", n)
	}
	if n := iss.JWKSFetches(); n != 1 {
		t.Fatalf("%d JWKS fetches, want 1", n)
	}

	// Unknown key IDs, issuer up or down: 401, no fetch (the last was
	// just now); the cached key still checks known tokens.
	stranger := jwttest.NewKey(t)
	for _, down := range []bool{false, true} {
		iss.SetDown(down)
		for i := range 10 {
			kid := fmt.Sprintf("made-up-%d", i)
			w := b.do(http.MethodGet, route, "", bearer(jwttest.SignWith(t, stranger, kid, iss.Claims("u-late", testAudience, viewer)))...)
			if e := wantError(t, w, http.StatusUnauthorized, "API.UNAUTHENTICATED"); !strings.Contains(e.Message, "not among the issuer's keys") {
				t.Fatalf("unknown key ID: %q", e.Message)
			}
		}
		if w := b.do(http.MethodGet, route, "", bearer(token)...); w.Code != http.StatusNotFound {
			t.Fatalf("cached key, issuer down=%v: %d %s", down, w.Code, w.Body)
		}
	}
	if n := iss.JWKSFetches(); n != 1 {
		t.Fatalf("%d JWKS fetches after 20 tokens naming unknown key IDs, want 1", n)
	}
}

// TestJWTAudienceList: AUTH_JWT_AUDIENCE with several audiences takes a
// token for any of them (aud, or client_id without aud) and refuses
// others.
func TestJWTAudienceList(t *testing.T) {
	iss := jwttest.New(t)
	cfg := DefaultConfig()
	cfg.Auth, cfg.JWTIssuer, cfg.JWTAudience = AuthKeysJWT, iss.URL, "web-client, cli-client"
	b := setup(t, cfg)
	admin := map[string]any{"cognito:groups": []string{"admin"}}
	with := func(extra map[string]any) map[string]any {
		out := map[string]any{"cognito:groups": []string{"admin"}}
		maps.Copy(out, extra)
		return out
	}
	for _, tc := range []struct {
		name  string
		token string
		want  int
	}{
		{"first audience", iss.Sign(t, iss.Claims("u", "web-client", admin)), http.StatusOK},
		{"second audience", iss.Sign(t, iss.Claims("u", "cli-client", admin)), http.StatusOK},
		{"client_id of the second, no aud", iss.Sign(t, iss.Claims("c", "", with(map[string]any{"aud": nil, "client_id": "cli-client"}))), http.StatusOK},
		{"the whole list as one audience", iss.Sign(t, iss.Claims("u", "web-client, cli-client", admin)), http.StatusUnauthorized},
		{"another audience", iss.Sign(t, iss.Claims("u", "mobile-client", admin)), http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := b.do(http.MethodGet, "/api/keys", "", bearer(tc.token)...)
			if w.Code != tc.want {
				t.Fatalf("GET /api/keys = %d, want %d; %s", w.Code, tc.want, w.Body)
			}
			if tc.want == http.StatusUnauthorized {
				if e := wantError(t, w, w.Code, "API.UNAUTHENTICATED"); !strings.Contains(e.Message, `one of "web-client", "cli-client"`) {
					t.Errorf("message %q does not name the audiences", e.Message)
				}
			}
		})
	}
}

// TestJWTAudienceConfig: AUTH_JWT_AUDIENCE is checked at start: one or
// more comma-separated audiences, none empty.
func TestJWTAudienceConfig(t *testing.T) {
	for _, tc := range []struct {
		audience string
		ok       bool
	}{
		{"client", true},
		{"web-client,cli-client", true},
		{" web-client , cli-client ", true},
		{"", false},
		{"web-client,,cli-client", false},
		{"web-client,", false},
		{",web-client", false},
		{" , ", false},
	} {
		env := config.FromMap(map[string]string{"API_AUTH": "jwt", "AUTH_JWT_ISSUER": "https://issuer.example", "AUTH_JWT_AUDIENCE": tc.audience})
		cfg := ConfigFromEnv(env)
		err := env.Err()
		if err == nil {
			err = cfg.validate()
		}
		switch {
		case tc.ok && err != nil:
			t.Errorf("%q refused: %v", tc.audience, err)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), "AUTH_JWT_AUDIENCE")):
			t.Errorf("%q: err = %v, want one naming AUTH_JWT_AUDIENCE", tc.audience, err)
		}
	}
}
