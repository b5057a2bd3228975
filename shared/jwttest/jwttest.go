// Package jwttest is a local OIDC issuer for tests: an httptest server
// that serves a discovery document and a JWKS with one RSA key made in
// the test (and any added with AddKey), signs tokens with it
// (github.com/go-jose/go-jose/v4) and counts the requests it serves.
package jwttest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Issuer is a running local OIDC issuer.
type Issuer struct {
	// URL is the issuer (iss) and the server's base URL.
	URL string
	// Key signs Sign's tokens; its public half is in the JWKS.
	Key   *rsa.PrivateKey
	KeyID string
	down  atomic.Bool

	discoveries, jwksFetches atomic.Int64

	mu    sync.Mutex
	extra []jose.JSONWebKey // AddKey's, served after Key
}

// Discoveries is how many requests for the discovery document the
// issuer received (while down too).
func (i *Issuer) Discoveries() int { return int(i.discoveries.Load()) }

// JWKSFetches is how many requests for the JWKS the issuer received
// (while down too).
func (i *Issuer) JWKSFetches() int { return int(i.jwksFetches.Load()) }

// AddKey makes a new RSA key, serves its public half in the JWKS under
// kid from now on (key rotation) and returns it, for SignWith.
func (i *Issuer) AddKey(t testing.TB, kid string) *rsa.PrivateKey {
	t.Helper()
	k := NewKey(t)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.extra = append(i.extra, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"})
	return k
}

// SetDown makes every request to the issuer answer 503 (true) or be
// served again (false).
func (i *Issuer) SetDown(down bool) { i.down.Store(down) }

// New starts an issuer, stopped at the end of t.
func New(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{Key: NewKey(t), KeyID: "test-key-1"}
	mux := http.NewServeMux()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			i.discoveries.Add(1)
		case "/jwks.json":
			i.jwksFetches.Add(1)
		}
		if i.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	i.URL = srv.URL
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                i.URL,
			"jwks_uri":                              i.URL + "/jwks.json",
			"authorization_endpoint":                i.URL + "/authorize",
			"token_endpoint":                        i.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		i.mu.Lock()
		keys := append([]jose.JSONWebKey{
			{Key: &i.Key.PublicKey, KeyID: i.KeyID, Algorithm: string(jose.RS256), Use: "sig"},
		}, i.extra...)
		i.mu.Unlock()
		writeJSON(w, jose.JSONWebKeySet{Keys: keys})
	})
	return i
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// NewKey makes an RSA key (2048 bits).
func NewKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Claims are the claims of a valid token from i for sub and aud, valid
// for an hour from a minute ago; extra is added over them (a nil value
// deletes a claim).
func (i *Issuer) Claims(sub, aud string, extra map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": i.URL, "sub": sub, "aud": aud,
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// Sign signs claims with i's key (RS256, kid i.KeyID).
func (i *Issuer) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	return SignWith(t, i.Key, i.KeyID, claims)
}

// SignWith signs claims with key (RS256) under kid.
func SignWith(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Unsigned is claims as an alg=none token (header, payload, empty
// signature), which no verifier may accept.
func Unsigned(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
}
