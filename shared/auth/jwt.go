package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
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
	// (JWKS) could not be fetched, now or at the last try, so the token
	// could not be checked (the api answers 503, not 401). The error is
	// a *JWTUnavailableError.
	ErrJWTUnavailable = errors.New("the token issuer cannot be reached")
	// ErrJWTInvalid: the token is not one this issuer signed for this
	// audience, or it is expired or not yet valid.
	ErrJWTInvalid = errors.New("the token is not valid")
)

// JWTUnavailableError is a token that could not be checked because the
// issuer's discovery document or keys could not be fetched. It wraps
// ErrJWTUnavailable.
type JWTUnavailableError struct {
	// What could not be fetched: "discovery at <issuer>" or "keys at
	// <JWKS URL>".
	What string
	// RetryAfter is how long until the verifier tries the issuer again
	// (what is left of its pause after a failure); tokens that need the
	// issuer meanwhile get this error without a fetch.
	RetryAfter time.Duration
	// Err is the last fetch's error.
	Err error
}

func (e *JWTUnavailableError) Error() string {
	return fmt.Sprintf("%v: %s: %v (next try in %s)", ErrJWTUnavailable, e.What, e.Err, e.RetryAfter.Round(time.Millisecond))
}

// Unwrap makes errors.Is find ErrJWTUnavailable and the fetch's error.
func (e *JWTUnavailableError) Unwrap() []error { return []error{ErrJWTUnavailable, e.Err} }

// Defaults of the JWTConfig's fetch limits.
const (
	// DefaultJWTBackoffMin is the pause after a failed fetch of the
	// issuer's discovery document or keys; each failure in a row doubles
	// it, up to DefaultJWTBackoffMax.
	DefaultJWTBackoffMin = time.Second
	DefaultJWTBackoffMax = 30 * time.Second
	// DefaultJWKSRefetchInterval is the least time between two fetches of
	// the JWKS for tokens naming a key ID the cached keys lack.
	DefaultJWKSRefetchInterval = 10 * time.Second
)

// JWTConfig is what JWTVerifier checks.
type JWTConfig struct {
	// Issuer is the OIDC issuer URL (the token's iss); its discovery
	// document is Issuer + "/.well-known/openid-configuration".
	Issuer string
	// Audiences (AUTH_JWT_AUDIENCE, ParseAudiences): one of them must be
	// in the token's aud or, for a token with no aud (a Cognito access
	// token), be its client_id.
	Audiences []string
	// RoleClaim names the claim (a string or a list of strings) whose
	// values name roles; "" means DefaultRoleClaim.
	RoleClaim string
	// ScopeRoles maps scopes (the scope claim, space-separated, or scp) to
	// roles, for tokens without groups (client credentials).
	ScopeRoles map[string]Role
	// Client fetches discovery and keys; nil means one with a 10 s
	// timeout.
	Client *http.Client
	// BackoffMin and BackoffMax bound the pause after a failed fetch
	// (doubling from BackoffMin at each failure in a row); zero means
	// DefaultJWTBackoffMin, DefaultJWTBackoffMax.
	BackoffMin, BackoffMax time.Duration
	// RefetchInterval is the least time between two JWKS fetches for
	// unknown key IDs; zero means DefaultJWKSRefetchInterval.
	RefetchInterval time.Duration
	// Now is the clock of the pauses (nil: time.Now); token expiry is
	// checked against the real clock.
	Now func() time.Time
}

// signingAlgs are the algorithms a token may be signed with: asymmetric
// only (never none, never an HMAC keyed with a public key).
var signingAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA,
}

// JWTVerifier checks bearer JWTs with github.com/coreos/go-oidc: the
// signature against the issuer's JWKS, the expiry and not-before, the
// issuer and the audience; it then reads the caller's role.
//
// It keeps a flood of tokens from turning into a flood of requests to
// the issuer. Discovery is lazy: it runs at the first Verify, so a cold
// start does not fail while the issuer is unreachable; after a failure
// it is tried again only after a pause (BackoffMin, doubling to
// BackoffMax), and tokens meanwhile get a *JWTUnavailableError without a
// fetch. The keys are cached; a token naming a key ID the cache lacks
// (key rotation) fetches the JWKS again at most once per
// RefetchInterval, and is refused as invalid (key unknown) in between.
// A failed JWKS fetch pauses like a failed discovery.
type JWTVerifier struct {
	cfg  JWTConfig
	mu   sync.Mutex // guards discovery
	v    *oidc.IDTokenVerifier
	disc fetchGate
}

// NewJWTVerifier returns a verifier for cfg; it fetches nothing yet.
func NewJWTVerifier(cfg JWTConfig) *JWTVerifier {
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = DefaultRoleClaim
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = DefaultJWTBackoffMin
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(DefaultJWTBackoffMax, cfg.BackoffMin)
	}
	if cfg.RefetchInterval <= 0 {
		cfg.RefetchInterval = DefaultJWKSRefetchInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &JWTVerifier{cfg: cfg}
}

// fetchGate spaces out fetches of one resource: after a failure the next
// fetch waits a pause that doubles with each failure in a row (between
// min and max); after a success it waits every (0: none needed).
type fetchGate struct {
	next    time.Time     // no fetch before
	pause   time.Duration // the last failure's pause; 0 after a success
	lastErr error         // the last fetch's error; nil after a success
}

// wait is how long until a fetch may run (≤ 0: now).
func (g *fetchGate) wait(now time.Time) time.Duration { return g.next.Sub(now) }

// failed records a failed fetch at now and returns the pause it starts.
func (g *fetchGate) failed(now time.Time, err error, lo, hi time.Duration) time.Duration {
	g.pause = min(max(2*g.pause, lo), hi)
	g.next, g.lastErr = now.Add(g.pause), err
	return g.pause
}

// succeeded records a successful fetch at now; the next may run after
// every.
func (g *fetchGate) succeeded(now time.Time, every time.Duration) {
	g.pause, g.lastErr = 0, nil
	g.next = now.Add(every)
}

// verifier discovers the issuer once, pausing after failures.
func (j *JWTVerifier) verifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.v != nil {
		return j.v, nil
	}
	if wait := j.disc.wait(j.cfg.Now()); wait > 0 {
		return nil, &JWTUnavailableError{What: "discovery at " + j.cfg.Issuer, RetryAfter: wait, Err: j.disc.lastErr}
	}
	jwksURI, err := j.discover(ctx)
	if err != nil {
		pause := j.disc.failed(j.cfg.Now(), err, j.cfg.BackoffMin, j.cfg.BackoffMax)
		return nil, &JWTUnavailableError{What: "discovery at " + j.cfg.Issuer, RetryAfter: pause, Err: err}
	}
	j.disc.succeeded(j.cfg.Now(), 0)
	j.v = oidc.NewVerifier(j.cfg.Issuer, &keySet{cfg: &j.cfg, url: jwksURI}, &oidc.Config{
		SkipClientIDCheck:    true, // checked in Verify: aud, or client_id without aud
		SupportedSigningAlgs: signingAlgs,
	})
	return j.v, nil
}

// discover fetches the discovery document and returns its jwks_uri. The
// fetch does not end with the request that started it (a cancelled
// request must not count as the issuer failing).
func (j *JWTVerifier) discover(ctx context.Context) (string, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), j.cfg.Client), j.cfg.Issuer)
	if err != nil {
		return "", err
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURI == "" {
		return "", fmt.Errorf("the discovery document has no jwks_uri (%v)", err)
	}
	return meta.JWKSURI, nil
}

// Verify checks raw and returns its caller: ID "jwt:" + sub, and the
// highest role named by the role claim or a mapped scope (Open when none
// is: the caller is known but may do nothing). The error wraps
// ErrJWTUnavailable (a *JWTUnavailableError) or ErrJWTInvalid.
func (j *JWTVerifier) Verify(ctx context.Context, raw string) (Caller, error) {
	v, err := j.verifier(ctx)
	if err != nil {
		return Caller{}, err
	}
	var fetchErr *JWTUnavailableError
	tok, err := v.Verify(context.WithValue(ctx, fetchErrKey{}, &fetchErr), raw)
	if fetchErr != nil {
		return Caller{}, fetchErr
	}
	if err != nil {
		return Caller{}, fmt.Errorf("%w: %v", ErrJWTInvalid, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Caller{}, fmt.Errorf("%w: claims: %v", ErrJWTInvalid, err)
	}
	clientID, _ := claims["client_id"].(string)
	if !j.audienceOK(tok.Audience, clientID) {
		return Caller{}, fmt.Errorf("%w: the audience (aud, or client_id without aud) is not %s", ErrJWTInvalid, j.audiences())
	}
	if tok.Subject == "" {
		return Caller{}, fmt.Errorf("%w: no sub claim", ErrJWTInvalid)
	}
	if !subjectOK(tok.Subject) {
		return Caller{}, fmt.Errorf("%w: the sub claim must be at most %d printable ASCII characters (OpenID Connect Core 1.0)", ErrJWTInvalid, MaxSubjectLen)
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

// audienceOK: one of the configured audiences is in aud or, when aud is
// empty, is clientID.
func (j *JWTVerifier) audienceOK(aud []string, clientID string) bool {
	if len(aud) == 0 {
		return clientID != "" && slices.Contains(j.cfg.Audiences, clientID)
	}
	for _, a := range aud {
		if slices.Contains(j.cfg.Audiences, a) {
			return true
		}
	}
	return false
}

// audiences names the configured audiences for a message.
func (j *JWTVerifier) audiences() string {
	if len(j.cfg.Audiences) == 1 {
		return strconv.Quote(j.cfg.Audiences[0])
	}
	q := make([]string, len(j.cfg.Audiences))
	for i, a := range j.cfg.Audiences {
		q[i] = strconv.Quote(a)
	}
	return "one of " + strings.Join(q, ", ")
}

// ParseAudiences reads AUTH_JWT_AUDIENCE: one audience (or Cognito app
// client ID) or several, comma-separated; spaces around each are
// dropped. No entry may be empty, and there must be one at least.
func ParseAudiences(s string) ([]string, error) {
	var out []string
	for i, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			return nil, fmt.Errorf("entry %d of %q is empty", i+1, s)
		}
		out = append(out, a)
	}
	return out, nil
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

// MaxSubjectLen is the longest sub a JWT may carry: OpenID Connect Core
// 1.0 caps it at 255 ASCII characters. The caller ID (jwt:<sub>) is
// recorded on every job it submits and travels in its events, so it is
// bounded here, printable ASCII only, which JSON encodes in at most two
// bytes a character (\" and \\).
const MaxSubjectLen = 255

func subjectOK(sub string) bool {
	if len(sub) > MaxSubjectLen {
		return false
	}
	for i := 0; i < len(sub); i++ {
		if sub[i] < 0x20 || sub[i] > 0x7e {
			return false
		}
	}
	return true
}
