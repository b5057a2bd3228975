package oidcstatic

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/jwttest"
)

// jwksOf fetches the issuer's key set, as the stack's copy does at deploy.
func jwksOf(t *testing.T, iss *jwttest.Issuer) string {
	t.Helper()
	resp, err := http.Get(iss.URL + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("jwks: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

// TestVerifiesAgainstTheCopy checks tokens with shared/auth's verifier
// (go-oidc) whose client is Client, while the issuer itself is down.
func TestVerifiesAgainstTheCopy(t *testing.T) {
	iss := jwttest.New(t)
	client, err := Client(iss.URL, jwksOf(t, iss))
	if err != nil {
		t.Fatal(err)
	}
	iss.SetDown(true) // only the copy is left
	v := auth.NewJWTVerifier(auth.JWTConfig{
		Issuer: iss.URL, Audiences: []string{"cid"}, Client: client,
		ScopeRoles: map[string]auth.Role{"jobweaver/write": auth.Operator},
	})
	other := jwttest.NewKey(t)
	cognito := map[string]any{"aud": nil, "client_id": "cid", "scope": "jobweaver/write", "token_use": "access"}
	cases := []struct {
		name  string
		token string
		role  auth.Role
		err   error
	}{
		{"a token of the issuer", iss.Sign(t, iss.Claims("cid", "", cognito)), auth.Operator, nil},
		{"signed by another key", jwttest.SignWith(t, other, iss.KeyID, iss.Claims("cid", "", cognito)), 0, auth.ErrJWTInvalid},
		{"from another issuer", iss.Sign(t, iss.Claims("cid", "", map[string]any{"aud": nil, "client_id": "cid", "iss": "https://elsewhere.example"})), 0, auth.ErrJWTInvalid},
		{"for another client", iss.Sign(t, iss.Claims("x", "", map[string]any{"aud": nil, "client_id": "x", "scope": "jobweaver/write"})), 0, auth.ErrJWTInvalid},
		{"unsigned", jwttest.Unsigned(t, iss.Claims("cid", "", cognito)), 0, auth.ErrJWTInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			caller, err := v.Verify(context.Background(), c.token)
			if !errors.Is(err, c.err) || (c.err == nil && caller.Role != c.role) {
				t.Fatalf("Verify = %+v, %v; want role %v, error %v", caller, err, c.role, c.err)
			}
		})
	}
}

func TestClient(t *testing.T) {
	const jwks = `{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}`
	for _, c := range []struct {
		name, issuer, jwks string
		ok                 bool
	}{
		{"a key set", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc", jwks, true},
		{"no keys", "https://issuer.example", `{"keys":[]}`, false},
		{"not JSON", "https://issuer.example", `keys`, false},
		{"no issuer URL", "issuer.example", jwks, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl, err := Client(c.issuer, c.jwks)
			if (err == nil) != c.ok {
				t.Fatalf("Client: %v", err)
			}
			if !c.ok {
				return
			}
			for url, want := range map[string]bool{
				c.issuer + DiscoveryPath:               true,
				c.issuer + KeysPath:                    true,
				c.issuer + KeysPath + "?x=1":           true,
				"https://elsewhere.example" + KeysPath: false,
				c.issuer + "/oauth2/token":             false,
			} {
				resp, err := cl.Get(url)
				if (err == nil) != want || (!want && !errors.Is(err, ErrNotServed)) {
					t.Fatalf("GET %s: %v", url, err)
				}
				if want {
					resp.Body.Close()
				}
			}
			if _, err := cl.Post(c.issuer+KeysPath, "application/json", nil); !errors.Is(err, ErrNotServed) {
				t.Fatalf("POST served: %v", err)
			}
		})
	}
}
