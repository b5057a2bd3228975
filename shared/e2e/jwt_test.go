package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/jwttest"
	"github.com/jobweaver/jobweaver/shared/stacktest"
)

// TestKeysAndJWTs: a stack with API_AUTH=keys,jwt over a local OIDC
// issuer takes an API key (jw_...) and a JWT on the same routes, each
// with its own role; a JWT that is not valid gets 401.
func TestKeysAndJWTs(t *testing.T) {
	iss := jwttest.New(t)
	admin, err := auth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	s := startStack(t, map[string]string{
		"API_AUTH": "keys,jwt", "API_ADMIN_KEY": admin,
		"AUTH_JWT_ISSUER": iss.URL, "AUTH_JWT_AUDIENCE": "e2e-client",
		"AUTH_JWT_SCOPE_ROLES": "jobweaver/read=viewer,jobweaver/write=operator",
	})
	viewerKey, _ := s.newKey(t, admin, "viewer", "")
	operatorJWT := iss.Sign(t, iss.Claims("e2e-user", "e2e-client", map[string]any{"cognito:groups": []string{"operator"}}))
	readScopeJWT := iss.Sign(t, iss.Claims("e2e-client-app", "e2e-client", map[string]any{"scope": "jobweaver/read"}))
	otherAudience := iss.Sign(t, iss.Claims("e2e-user", "someone-else", map[string]any{"cognito:groups": []string{"admin"}}))
	job := stacktest.JobJSON(`{"action":"LOG","message":"jwt"}`, 0)

	for _, tc := range []struct {
		name, method, path, body, token string
		want                            int
	}{
		{"key reads", http.MethodGet, "/api/jobs?size=1", "", viewerKey, http.StatusOK},
		{"operator JWT reads", http.MethodGet, "/api/jobs?size=1", "", operatorJWT, http.StatusOK},
		{"read-scope JWT reads", http.MethodGet, "/api/jobs?size=1", "", readScopeJWT, http.StatusOK},
		{"operator JWT submits", http.MethodPost, "/api/jobs", job, operatorJWT, http.StatusAccepted},
		{"viewer key may not submit", http.MethodPost, "/api/jobs", job, viewerKey, http.StatusForbidden},
		{"read-scope JWT may not submit", http.MethodPost, "/api/jobs", job, readScopeJWT, http.StatusForbidden},
		{"admin key manages keys", http.MethodGet, "/api/keys", "", admin, http.StatusOK},
		{"operator JWT may not", http.MethodGet, "/api/keys", "", operatorJWT, http.StatusForbidden},
		{"JWT for another audience", http.MethodGet, "/api/jobs?size=1", "", otherAudience, http.StatusUnauthorized},
		{"no credentials", http.MethodGet, "/api/jobs?size=1", "", "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.token != "" {
				hdr = []string{"Authorization", "Bearer " + tc.token}
			}
			r := s.Do(t, tc.method, tc.path, tc.body, hdr...)
			if r.Status != tc.want {
				t.Fatalf("%s %s = %d, want %d; %s", tc.method, tc.path, r.Status, tc.want, r.Body)
			}
			if tc.want == http.StatusUnauthorized && !strings.Contains(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
}
