package apiauth

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jobweaver/jobweaver/shared/apiauth/apiauthtest"
	"golang.org/x/oauth2"
)

type fakeSecrets map[string]string

func (f fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v, ok := f[*in.SecretId]
	if !ok {
		return nil, errors.New("ResourceNotFoundException: Secrets Manager can't find the specified secret")
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: &v}, nil
}

func TestSecretName(t *testing.T) {
	if got := SecretName("dev", "operator"); got != "jobweaver-dev/api-clients/operator" {
		t.Fatalf("SecretName = %q", got)
	}
	for name, want := range map[string]bool{"operator": true, "ci-bot2": true, "": false, "Ops": false, "2x": false, "a_b": false,
		strings.Repeat("a", 40): true, strings.Repeat("a", 41): false} {
		if ValidClientName(name) != want {
			t.Errorf("ValidClientName(%q) = %v", name, !want)
		}
	}
}

func TestLoadAndToken(t *testing.T) {
	srv := apiauthtest.TokenEndpoint(t, "cid", "s3cret", ScopeRead, ScopeWrite)
	good, _ := json.Marshal(Client{ClientID: "cid", ClientSecret: "s3cret", TokenURL: srv.URL, Scope: ScopeRead + " " + ScopeWrite})
	stale, _ := json.Marshal(Client{ClientID: "cid", ClientSecret: "old", TokenURL: srv.URL, Scope: ScopeRead})
	secrets := fakeSecrets{
		SecretName("dev", "operator"): string(good),
		SecretName("dev", "stale"):    string(stale),
		SecretName("dev", "broken"):   `{"clientId":"x"}`,
		SecretName("dev", "notjson"):  `nope`,
	}
	cases := []struct {
		name, client string
		scopes       []string
		token, err   string
	}{
		{"every scope of the client", "operator", nil, "tok:" + ScopeRead + " " + ScopeWrite, ""},
		{"read only", "operator", []string{ScopeRead}, "tok:" + ScopeRead, ""},
		{"scope the client lacks", "stale", []string{ScopeWrite}, "", `scope "jobweaver/write" is not one of the client's`},
		{"rotated secret", "stale", nil, "", "refused: invalid_client"},
		{"no such client", "ghost", nil, "", `read secret jobweaver-dev/api-clients/ghost`},
		{"incomplete secret", "broken", nil, "", "lacks clientId, clientSecret or tokenUrl"},
		{"not JSON", "notjson", nil, "", "jobweaver-dev/api-clients/notjson"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			cl, err := Load(ctx, secrets, "dev", c.client)
			if err == nil {
				var tok *oauth2.Token
				if tok, err = cl.Token(ctx, srv.Client(), c.scopes...); err == nil &&
					(tok.AccessToken != c.token || tok.Type() != "Bearer" || tok.Expiry.IsZero()) {
					t.Fatalf("token = %+v, want %q Bearer with an expiry", tok, c.token)
				}
			}
			if c.err == "" && err != nil {
				t.Fatalf("err = %v", err)
			}
			if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("err = %v, want it to contain %q", err, c.err)
			}
		})
	}
}
