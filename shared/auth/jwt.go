package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// DefaultRoleClaim is the claim a JWT's roles are read from by default:
// the groups of a Cognito user pool user.
const DefaultRoleClaim = "cognito:groups"

// JWT errors: Verify's error wraps one of them.
var (
	// ErrJWTUnavailable: the issuer's discovery document or its keys
	// (JWKS) could not be fetched, so the token could not be checked
	// (the api answers 503, not 401).
	ErrJWTUnavailable = errors.New("the token issuer cannot be reached")
	// ErrJWTInvalid: the token is not one this issuer signed for this
	// audience, or it is expired or not yet valid.
	ErrJWTInvalid = errors.New("the token is not valid")
)

// JWTConfig is what JWTVerifier checks.
type JWTConfig struct {
	// Issuer is the OIDC issuer URL (the token's iss); its discovery
	// document is Issuer + "/.well-known/openid-configuration".
	Issuer string
	// Audience must be in the token's aud or, for a token with no aud
	// (a Cognito access token), be its client_id.
	Audience string
	// RoleClaim names the claim (a string or a list of strings) whose
	// values name roles; "" means DefaultRoleClaim.
	RoleClaim string
	// ScopeRoles maps scopes (the scope claim, space-separated, or scp) to
	// roles, for tokens without groups (client credentials).
	ScopeRoles map[string]Role
	// Client fetches discovery and keys; nil means one with a 10 s
	// timeout.
	Client *http.Client
}

// signingAlgs are the algorithms a token may be signed with: asymmetric
// only (never none, never an HMAC keyed with a public key).
var signingAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA,
}

// JWTVerifier checks bearer JWTs with github.com/coreos/go-oidc: the
// signature against the issuer's JWKS (cached, refetched when a token
// names an unknown key), the expiry and not-before, the issuer and the
// audience; it then reads the caller's role. Discovery is lazy: it runs
// at the first Verify and again at each Verify until it succeeds, so a
// cold start does not fail while the issuer is unreachable.
type JWTVerifier struct {
	cfg JWTConfig
	mu  sync.Mutex
	v   *oidc.IDTokenVerifier
}

// NewJWTVerifier returns a verifier for cfg; it fetches nothing yet.
func NewJWTVerifier(cfg JWTConfig) *JWTVerifier {
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = DefaultRoleClaim
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	return &JWTVerifier{cfg: cfg}
}

// verifier discovers the issuer once.
func (j *JWTVerifier) verifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.v != nil {
		return j.v, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, j.cfg.Client), j.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURI == "" {
		return nil, fmt.Errorf("the discovery document has no jwks_uri (%v)", err)
	}
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), j.cfg.Client), meta.JWKSURI)
	j.v = oidc.NewVerifier(j.cfg.Issuer, reportingKeySet{keys}, &oidc.Config{
		SkipClientIDCheck:    true, // checked in Verify: aud, or client_id without aud
		SupportedSigningAlgs: signingAlgs,
	})
	return j.v, nil
}

// fetchErrKey carries a *error that reportingKeySet fills when the keys
// could not be fetched (go-oidc flattens that error into a string).
type fetchErrKey struct{}

// reportingKeySet tells a failure to fetch the JWKS apart from a bad
// signature: RemoteKeySet wraps the former ("fetching keys %w") and not
// the latter.
type reportingKeySet struct{ *oidc.RemoteKeySet }

func (k reportingKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	p, err := k.RemoteKeySet.VerifySignature(ctx, jwt)
	if err != nil && errors.Unwrap(err) != nil {
		if slot, ok := ctx.Value(fetchErrKey{}).(*error); ok {
			*slot = err
		}
	}
	return p, err
}

// Verify checks raw and returns its caller: ID "jwt:" + sub, and the
// highest role named by the role claim or a mapped scope (Open when none
// is: the caller is known but may do nothing). The error wraps
// ErrJWTUnavailable or ErrJWTInvalid.
func (j *JWTVerifier) Verify(ctx context.Context, raw string) (Caller, error) {
	v, err := j.verifier(ctx)
	if err != nil {
		return Caller{}, fmt.Errorf("%w: discovery at %s: %v", ErrJWTUnavailable, j.cfg.Issuer, err)
	}
	var fetchErr error
	tok, err := v.Verify(context.WithValue(ctx, fetchErrKey{}, &fetchErr), raw)
	if fetchErr != nil {
		return Caller{}, fmt.Errorf("%w: %v", ErrJWTUnavailable, fetchErr)
	}
	if err != nil {
		return Caller{}, fmt.Errorf("%w: %v", ErrJWTInvalid, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Caller{}, fmt.Errorf("%w: claims: %v", ErrJWTInvalid, err)
	}
	switch clientID, _ := claims["client_id"].(string); {
	case slices.Contains(tok.Audience, j.cfg.Audience):
	case len(tok.Audience) == 0 && clientID == j.cfg.Audience:
	default:
		return Caller{}, fmt.Errorf("%w: the audience (aud, or client_id without aud) is not %q", ErrJWTInvalid, j.cfg.Audience)
	}
	if tok.Subject == "" {
		return Caller{}, fmt.Errorf("%w: no sub claim", ErrJWTInvalid)
	}
	role := Open
	for _, name := range claimValues(claims[j.cfg.RoleClaim]) {
		if r, err := ParseRole(strings.ToLower(name)); err == nil {
			role = max(role, r)
		}
	}
	scopes := append(claimValues(claims["scope"]), claimValues(claims["scp"])...)
	for _, s := range scopes {
		role = max(role, j.cfg.ScopeRoles[s])
	}
	return Caller{ID: "jwt:" + tok.Subject, Role: role}, nil
}

// claimValues reads a claim that is a string (space-separated values) or
// a list of strings.
func claimValues(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// ParseScopeRoles reads AUTH_JWT_SCOPE_ROLES: comma-separated
// scope=role pairs, e.g. "jobweaver/read=viewer,jobweaver/write=operator".
func ParseScopeRoles(s string) (map[string]Role, error) {
	out := map[string]Role{}
	for pair := range strings.SplitSeq(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		scope, name, ok := strings.Cut(pair, "=")
		scope = strings.TrimSpace(scope)
		if !ok || scope == "" {
			return nil, fmt.Errorf("%q is not scope=role", pair)
		}
		r, err := ParseRole(strings.TrimSpace(name))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", pair, err)
		}
		out[scope] = r
	}
	return out, nil
}
