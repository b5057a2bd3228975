// Package oidcstatic serves an OIDC issuer's discovery document and JWKS
// from a copy, for a JWT verifier that cannot reach the issuer.
//
// In AWS the api function runs in private subnets without a NAT gateway:
// it cannot reach Cognito's public endpoint
// (https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json),
// and a Cognito VPC endpoint does not serve a user pool that has a domain,
// which the client credentials grant needs. So the stack copies the pool's
// JWKS at deploy (a custom resource outside the VPC) into the api's
// AUTH_JWT_JWKS, and the api verifies tokens against that copy through
// [Client]: the signature, expiry, issuer and audience checks are the same
// (shared/auth with go-oidc), only the keys come from the copy. A deploy
// refreshes the copy.
package oidcstatic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// DiscoveryPath and KeysPath are where Client serves the discovery
// document and the keys, under the issuer.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	KeysPath      = "/.well-known/jwks.json"
)

// ErrNotServed is the error of a request Client does not serve: it never
// goes to the network.
var ErrNotServed = errors.New("oidcstatic: only the issuer's discovery document and keys are served")

// Client returns an HTTP client that answers GET issuer+DiscoveryPath with
// a discovery document naming issuer+KeysPath as its jwks_uri, and GET
// issuer+KeysPath with jwks; every other request fails with ErrNotServed.
// jwks must be a JSON Web Key Set with at least one key.
func Client(issuer, jwks string) (*http.Client, error) {
	issuer = strings.TrimRight(issuer, "/")
	if !strings.HasPrefix(issuer, "https://") && !strings.HasPrefix(issuer, "http://") {
		return nil, fmt.Errorf("oidcstatic: issuer %q is not a URL", issuer)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal([]byte(jwks), &set); err != nil || len(set.Keys) == 0 {
		return nil, fmt.Errorf("oidcstatic: the key set is not a JWKS with keys (%v)", err)
	}
	discovery, err := json.Marshal(map[string]any{
		"issuer":                                issuer,
		"jwks_uri":                              issuer + KeysPath,
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
	if err != nil {
		return nil, err
	}
	docs := map[string][]byte{issuer + DiscoveryPath: discovery, issuer + KeysPath: []byte(jwks)}
	return &http.Client{Transport: transport(docs)}, nil
}

// transport answers GETs of docs' URLs.
type transport map[string][]byte

func (t transport) RoundTrip(r *http.Request) (*http.Response, error) {
	u := *r.URL
	u.RawQuery, u.Fragment = "", ""
	body, ok := t[u.String()]
	if r.Body != nil {
		_ = r.Body.Close()
	}
	if !ok || r.Method != http.MethodGet {
		return nil, fmt.Errorf("%w (asked %s %s)", ErrNotServed, r.Method, u.String())
	}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}, nil
}
