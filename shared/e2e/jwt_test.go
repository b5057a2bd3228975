package e2e

import (
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/jwttest"
)

// The audiences of jwtStack (AUTH_JWT_AUDIENCE is a list): a web client
// and a machine client, as a stage's two Cognito app clients.
const (
	webClient = "e2e-web"
	cliClient = "e2e-cli"
)

// jwtStack starts a stack with API_AUTH=keys,jwt over the local issuer
// iss: two audiences, scopes mapped to all three roles, its admin key
// seeded and a short key cache.
func jwtStack(t *testing.T, iss *jwttest.Issuer) (*stack, string) {
	t.Helper()
	admin, err := auth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return startStack(t, map[string]string{
		"API_AUTH": "keys,jwt", "API_ADMIN_KEY": admin, "API_KEY_CACHE_TTL": "100ms",
		"AUTH_JWT_ISSUER": iss.URL, "AUTH_JWT_AUDIENCE": webClient + "," + cliClient,
		"AUTH_JWT_SCOPE_ROLES": "jobweaver/read=viewer,jobweaver/write=operator,jobweaver/admin=admin",
	}), admin
}

// jwtCallers are the JWT rows of the RBAC matrix (TestRBACMatrix): users
// with Cognito groups (ID tokens, aud the web client), machine callers
// with scopes (access tokens: client_id, no aud), a valid token with no
// role (403), and tokens that are not valid (401): expired, another
// issuer, another audience, a signature by another key, a key ID the
// issuer does not have, and alg=none.
func jwtCallers(t *testing.T, iss *jwttest.Issuer) []rbacCaller {
	t.Helper()
	user := func(sub string, groups ...string) map[string]any {
		return iss.Claims(sub, webClient, map[string]any{"cognito:groups": groups})
	}
	machine := func(sub, scope string) map[string]any {
		return iss.Claims(sub, "", map[string]any{"aud": nil, "client_id": cliClient, "scope": scope, "token_use": "access"})
	}
	signed := func(claims map[string]any) string { return "Bearer " + iss.Sign(t, claims) }
	admin := user("jwt-bad", "admin")
	with := func(k string, v any) map[string]any {
		c := maps.Clone(admin)
		c[k] = v
		return c
	}
	stranger := jwttest.NewKey(t)
	return []rbacCaller{
		{name: "JWT viewer group", header: signed(user("jwt-viewer", "viewer")), role: auth.Viewer},
		{name: "JWT operator group", header: signed(user("jwt-operator", "operator", "staff")), role: auth.Operator},
		{name: "JWT admin group", header: signed(user("jwt-admin", "admin")), role: auth.Admin},
		{name: "JWT read scope", header: signed(machine("jwt-read-client", "jobweaver/read")), role: auth.Viewer},
		{name: "JWT write scope", header: signed(machine("jwt-write-client", "jobweaver/read jobweaver/write")), role: auth.Operator},
		{name: "JWT admin scope", header: signed(machine("jwt-admin-client", "jobweaver/admin")), role: auth.Admin},
		{name: "JWT no role", header: signed(iss.Claims("jwt-nobody", cliClient, map[string]any{"cognito:groups": []string{"staff"}, "scope": "openid"})), role: auth.Open, refused: http.StatusForbidden},
		{name: "JWT expired", header: signed(with("exp", time.Now().Add(-time.Minute).Unix())), role: auth.Open},
		{name: "JWT wrong issuer", header: signed(with("iss", "https://issuer.example")), role: auth.Open},
		{name: "JWT wrong audience", header: signed(with("aud", "someone-else")), role: auth.Open},
		{name: "JWT wrong signature", header: "Bearer " + jwttest.SignWith(t, stranger, iss.KeyID, admin), role: auth.Open},
		{name: "JWT unknown key ID", header: "Bearer " + jwttest.SignWith(t, stranger, "made-up", admin), role: auth.Open},
		{name: "JWT alg none", header: "Bearer " + jwttest.Unsigned(t, admin), role: auth.Open},
	}
}

// checkJWTCallers checks, after the RBAC matrix, that what JWT callers
// did is recorded under jwt:<sub>, and that the matrix's tokens, the
// made-up key ID among them, cost the issuer one discovery and one JWKS
// fetch (another at most each 10 s the test ran).
func checkJWTCallers(t *testing.T, s *stack, iss *jwttest.Issuer, start time.Time) {
	t.Helper()
	for _, sub := range []string{"jwt-admin", "jwt-admin-client"} {
		if n := s.Count(t, "api", `SELECT count(*) FROM api_keys WHERE name = 'rbac' AND created_by = $1`, "jwt:"+sub); n != 1 {
			t.Errorf("%d keys created by jwt:%s, want 1", n, sub)
		}
	}
	for _, sub := range []string{"jwt-operator", "jwt-write-client"} {
		if n := s.Count(t, "dlq", `SELECT count(*) FROM operations WHERE requested_by = $1`, "jwt:"+sub); n != 2 {
			t.Errorf("%d DLQ operations requested by jwt:%s, want 2 (retry, dismiss)", n, sub)
		}
	}
	if n := iss.Discoveries(); n != 1 {
		t.Errorf("%d discovery requests, want 1", n)
	}
	if n, most := iss.JWKSFetches(), 1+int(time.Since(start)/(10*time.Second)); n < 1 || n > most {
		t.Errorf("%d JWKS fetches, want 1 to %d", n, most)
	}
}
