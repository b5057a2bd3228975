// Package apiauthtest fakes what apiauth talks to, for tests: a Cognito
// like token endpoint and the Secrets Manager GetSecretValue call over
// HTTP (for code that builds its client from the AWS configuration, with
// AWS_ENDPOINT_URL_SECRETS_MANAGER pointing at it).
package apiauthtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// TokenEndpoint serves the client credentials grant for one app client
// as Cognito's /oauth2/token does: client authentication in the
// Authorization header, scopes among the client's, errors as
// {"error": "invalid_client"} and the like. Its access tokens are
// "tok:" + the scopes asked for.
func TokenEndpoint(t testing.TB, clientID, secret string, scopes ...string) *httptest.Server {
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
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "tok:" + r.FormValue("scope"), "token_type": "Bearer", "expires_in": 3600,
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// SecretsManager serves GetSecretValue (the AWS JSON 1.1 protocol) for the
// secrets given by name; any other name gets ResourceNotFoundException.
func SecretsManager(t testing.TB, secrets map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		var in struct{ SecretId string }
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || json.NewDecoder(r.Body).Decode(&in) != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": "InvalidRequestException", "message": "unexpected call"})
			return
		}
		v, ok := secrets[in.SecretId]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": "ResourceNotFoundException", "message": "Secrets Manager can't find the specified secret."})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"Name": in.SecretId, "SecretString": v, "VersionId": "v1"})
	}))
	t.Cleanup(srv.Close)
	return srv
}
