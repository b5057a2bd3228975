// Package apiauthtest fakes what apiauth talks to, for tests: a Cognito
// like token endpoint and the Secrets Manager GetSecretValue and
// PutSecretValue calls over HTTP (for code that builds its client from the AWS configuration, with
// AWS_ENDPOINT_URL_SECRETS_MANAGER pointing at it).
package apiauthtest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TokenEndpoint serves the client credentials grant for one app client
// as Cognito's /oauth2/token does: client authentication in the
// Authorization header, scopes among the client's, errors as
// {"error": "invalid_client"} and the like. Its access tokens are
// "tok:" + the scopes asked for.
func TokenEndpoint(t testing.TB, clientID, secret string, scopes ...string) *httptest.Server {
	t.Helper()
	return TokenEndpointFunc(t, clientID, secret, func(scope string) string { return "tok:" + scope }, scopes...)
}

// TokenEndpointFunc is TokenEndpoint whose access tokens mint makes from
// the scopes asked for (space-separated; the client's all when none is
// asked, as Cognito does): say, a JWT signed by a jwttest issuer.
func TokenEndpointFunc(t testing.TB, clientID, secret string, mint func(scope string) string, scopes ...string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fail := func(code string) {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			fail("invalid_request")
			return
		}
		if user, pass, ok := r.BasicAuth(); !ok || user != clientID || pass != secret {
			fail("invalid_client")
			return
		}
		if r.FormValue("grant_type") != "client_credentials" {
			fail("unsupported_grant_type")
			return
		}
		for _, s := range strings.Fields(r.FormValue("scope")) {
			if !slices.Contains(scopes, s) {
				fail("invalid_scope")
				return
			}
		}
		scope := r.FormValue("scope")
		if scope == "" {
			scope = strings.Join(scopes, " ")
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": mint(scope), "token_type": "Bearer", "expires_in": 3600,
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// SecretsManager serves GetSecretValue and PutSecretValue (the AWS JSON
// 1.1 protocol) for the secrets given by ID (a name or an ARN: whatever
// the caller sends); any other ID gets ResourceNotFoundException.
func SecretsManager(t testing.TB, secrets map[string]string) *httptest.Server {
	t.Helper()
	return NewSecrets(t, secrets).Server
}

// Secrets is a running fake of Secrets Manager (SecretsManager) whose
// values a test can read.
type Secrets struct {
	*httptest.Server
	mu     sync.Mutex
	values map[string]string
	puts   int
}

// Value is the secret id's current value.
func (s *Secrets) Value(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[id]
	return v, ok
}

// Puts is how many PutSecretValue calls succeeded.
func (s *Secrets) Puts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}

// NewSecrets starts a fake holding a copy of secrets (ID → value).
func NewSecrets(t testing.TB, secrets map[string]string) *Secrets {
	t.Helper()
	s := &Secrets{values: maps.Clone(secrets)}
	if s.values == nil {
		s.values = map[string]string{}
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fail := func(typ, msg string) {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
		}
		var in struct{ SecretId, SecretString string }
		target := r.Header.Get("X-Amz-Target")
		if (target != "secretsmanager.GetSecretValue" && target != "secretsmanager.PutSecretValue") || json.NewDecoder(r.Body).Decode(&in) != nil {
			fail("InvalidRequestException", "unexpected call")
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		v, ok := s.values[in.SecretId]
		if !ok {
			fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
			return
		}
		if target == "secretsmanager.PutSecretValue" {
			s.values[in.SecretId] = in.SecretString
			s.puts++
			_ = json.NewEncoder(w).Encode(map[string]any{"ARN": in.SecretId, "Name": in.SecretId, "VersionId": fmt.Sprintf("v%d", s.puts+1)})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": in.SecretId, "Name": in.SecretId, "SecretString": v, "VersionId": "v1"})
	}))
	t.Cleanup(s.Server.Close)
	return s
}
