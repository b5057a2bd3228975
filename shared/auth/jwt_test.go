package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/jwttest"
)

// TestJWTVerifierCaller: the caller is jwt:<sub> with the highest role of
// its groups (a custom role claim here) and mapped scopes.
func TestJWTVerifierCaller(t *testing.T) {
	iss := jwttest.New(t)
	v := auth.NewJWTVerifier(auth.JWTConfig{Issuer: iss.URL, Audience: "aud", RoleClaim: "roles",
		ScopeRoles: map[string]auth.Role{"w": auth.Operator}})
	for _, tc := range []struct {
		name   string
		claims map[string]any
		want   auth.Caller
	}{
		{"role claim", map[string]any{"roles": []string{"viewer"}}, auth.Caller{ID: "jwt:user-1", Role: auth.Viewer}},
		{"scope beats a lower group", map[string]any{"roles": "viewer", "scope": "openid w"}, auth.Caller{ID: "jwt:user-1", Role: auth.Operator}},
		{"scp list", map[string]any{"scp": []string{"w"}}, auth.Caller{ID: "jwt:user-1", Role: auth.Operator}},
		{"cognito:groups ignored with another role claim", map[string]any{"cognito:groups": []string{"admin"}}, auth.Caller{ID: "jwt:user-1", Role: auth.Open}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), iss.Sign(t, iss.Claims("user-1", "aud", tc.claims)))
			if err != nil || c != tc.want {
				t.Fatalf("Verify = %+v, %v; want %+v", c, err, tc.want)
			}
		})
	}
	_, err := v.Verify(context.Background(), iss.Sign(t, iss.Claims("user-1", "other", nil)))
	if !errors.Is(err, auth.ErrJWTInvalid) {
		t.Fatalf("wrong audience: %v", err)
	}
}

func TestParseScopeRoles(t *testing.T) {
	got, err := auth.ParseScopeRoles(" jobweaver/read=viewer, jobweaver/write=operator ,x=admin,")
	if err != nil || len(got) != 3 || got["jobweaver/read"] != auth.Viewer || got["jobweaver/write"] != auth.Operator || got["x"] != auth.Admin {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"read", "=viewer", "read=reader", "read=Viewer"} {
		if _, err := auth.ParseScopeRoles(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
