package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"

	"github.com/go-jose/go-jose/v4"
)

// maxJWKSBytes bounds the JWKS document read from the issuer.
const maxJWKSBytes = 1 << 20

// fetchErrKey carries a **JWTUnavailableError that keySet fills when it
// needed the issuer's keys and could not get them (go-oidc flattens the
// key set's error into a string).
type fetchErrKey struct{}

// keySet is the issuer's JWKS as go-oidc's KeySet, cached. Unlike
// go-oidc's RemoteKeySet, which fetches the JWKS again for every token
// its cached keys do not verify, it fetches again only for a key ID it
// does not hold, at most once per RefetchInterval, and pauses after a
// failed fetch (fetchGate), so tokens naming made-up key IDs cannot make
// the api hammer the issuer.
type keySet struct {
	cfg *JWTConfig
	url string

	mu   sync.RWMutex
	keys []jose.JSONWebKey

	fetchMu sync.Mutex // one fetch at a time; guards gate
	gate    fetchGate
}

// VerifySignature checks raw's signature with the cached key its kid
// names (any cached key when it names none), fetching the keys again
// when none is cached under that kid and the gate allows it. It returns
// the payload.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, joseAlgs())
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("the token must have exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	if p, found, err := verifyWith(k.cached(), jws, kid); found {
		return p, err
	}
	p, err := k.refetch(ctx, jws, kid)
	var unavailable *JWTUnavailableError
	if errors.As(err, &unavailable) {
		if slot, ok := ctx.Value(fetchErrKey{}).(**JWTUnavailableError); ok {
			*slot = unavailable
		}
	}
	return p, err
}

func (k *keySet) cached() []jose.JSONWebKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys
}

// verifyWith verifies jws with the keys under kid (every key when kid is
// ""); found reports whether there was such a key.
func verifyWith(keys []jose.JSONWebKey, jws *jose.JSONWebSignature, kid string) (payload []byte, found bool, err error) {
	for _, key := range keys {
		if kid != "" && key.KeyID != kid {
			continue
		}
		found = true
		if p, err := jws.Verify(&key); err == nil {
			return p, true, nil
		}
	}
	if !found {
		return nil, false, nil
	}
	return nil, true, fmt.Errorf("the signature does not match the issuer's key %q", kid)
}

// refetch fetches the keys for a token whose kid the cache lacks, unless
// the gate says to wait: then the token is refused as naming an unknown
// key (after a successful fetch) or as unavailable (after a failed one).
func (k *keySet) refetch(ctx context.Context, jws *jose.JSONWebSignature, kid string) ([]byte, error) {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	// A fetch this call waited for may have brought the key.
	if p, found, err := verifyWith(k.cached(), jws, kid); found {
		return p, err
	}
	now := k.cfg.Now()
	if wait := k.gate.wait(now); wait > 0 {
		if k.gate.lastErr != nil {
			return nil, &JWTUnavailableError{What: "keys at " + k.url, RetryAfter: wait, Err: k.gate.lastErr}
		}
		return nil, fmt.Errorf("the key ID %q is not among the issuer's keys (fetched again at most every %s)", kid, k.cfg.RefetchInterval)
	}
	keys, err := k.fetch(ctx)
	if err != nil {
		pause := k.gate.failed(k.cfg.Now(), err, k.cfg.BackoffMin, k.cfg.BackoffMax)
		return nil, &JWTUnavailableError{What: "keys at " + k.url, RetryAfter: pause, Err: err}
	}
	k.gate.succeeded(k.cfg.Now(), k.cfg.RefetchInterval)
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	if p, found, err := verifyWith(keys, jws, kid); found {
		return p, err
	}
	return nil, fmt.Errorf("the key ID %q is not among the issuer's keys", kid)
}

// fetch reads the JWKS. Keys it cannot use (another algorithm or key
// type, or for encryption) are skipped; a set with no usable key is an
// error. The fetch does not end with the request that started it.
func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := k.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return nil, fmt.Errorf("reading the keys: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the keys answered %s", resp.Status)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("the keys are not a JWKS: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var meta struct{ Alg, Use string }
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, fmt.Errorf("the keys are not a JWKS: %w", err)
		}
		if (meta.Alg != "" && !slices.Contains(signingAlgs, meta.Alg)) || meta.Use == "enc" {
			continue
		}
		var key jose.JSONWebKey
		if err := json.Unmarshal(raw, &key); err != nil {
			if errors.Is(err, jose.ErrUnsupportedKeyType) {
				continue
			}
			return nil, fmt.Errorf("a key of the JWKS: %w", err)
		}
		if !key.IsPublic() {
			key = key.Public()
		}
		if key.Valid() {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("the JWKS has no signing key")
	}
	return keys, nil
}

func joseAlgs() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(signingAlgs))
	for i, a := range signingAlgs {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}
