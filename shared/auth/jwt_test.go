package auth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/jwttest"
)

// TestJWTVerifierCaller: the caller is jwt:<sub> with the highest role of
// its groups (a custom role claim here) and mapped scopes.
func TestJWTVerifierCaller(t *testing.T) {
	iss := jwttest.New(t)
	v := auth.NewJWTVerifier(auth.JWTConfig{Issuer: iss.URL, Audiences: []string{"aud"}, RoleClaim: "roles",
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

// TestJWTAudiences: with several audiences a token passes when its aud
// holds any of them, or, with no aud, when its client_id is one.
func TestJWTAudiences(t *testing.T) {
	iss := jwttest.New(t)
	v := auth.NewJWTVerifier(auth.JWTConfig{Issuer: iss.URL, Audiences: []string{"web", "cli"}})
	for _, tc := range []struct {
		name  string
		extra map[string]any // over aud "web"
		ok    bool
	}{
		{"first", nil, true},
		{"second", map[string]any{"aud": "cli"}, true},
		{"one of a list", map[string]any{"aud": []string{"other", "cli"}}, true},
		{"client_id without aud", map[string]any{"aud": nil, "client_id": "cli"}, true},
		{"another aud", map[string]any{"aud": "other"}, false},
		{"another list", map[string]any{"aud": []string{"other", "more"}}, false},
		{"client_id with another aud", map[string]any{"aud": "other", "client_id": "web"}, false},
		{"another client_id without aud", map[string]any{"aud": nil, "client_id": "other"}, false},
		{"neither aud nor client_id", map[string]any{"aud": nil}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), iss.Sign(t, iss.Claims("u", "web", tc.extra)))
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.ok && !errors.Is(err, auth.ErrJWTInvalid):
				t.Fatalf("err = %v, want ErrJWTInvalid", err)
			case !tc.ok && !strings.Contains(err.Error(), `one of "web", "cli"`):
				t.Errorf("the message does not name the audiences: %v", err)
			}
		})
	}
}

func TestParseAudiences(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string // nil: an error
	}{
		{"client", []string{"client"}},
		{" web , cli ", []string{"web", "cli"}},
		{"a,b,c", []string{"a", "b", "c"}},
		{"", nil},
		{" ", nil},
		{"a,,b", nil},
		{"a,", nil},
		{",a", nil},
		{"a, ,b", nil},
	} {
		got, err := auth.ParseAudiences(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%q accepted as %q", tc.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// clock is a settable clock for the verifier's pauses.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// unavailable checks that err is a *JWTUnavailableError that pauses for
// want.
func unavailable(t *testing.T, err error, want time.Duration) {
	t.Helper()
	var u *auth.JWTUnavailableError
	if !errors.As(err, &u) || !errors.Is(err, auth.ErrJWTUnavailable) {
		t.Fatalf("err = %v, want a JWTUnavailableError", err)
	}
	if u.RetryAfter != want {
		t.Fatalf("RetryAfter = %s, want %s (%v)", u.RetryAfter, want, err)
	}
}

// TestJWTDiscoveryBacksOff: while the issuer is down, a flood of tokens
// makes one discovery request per pause, the pause doubling from 1 s to
// 30 s; tokens in between are told the rest of the pause. Once the
// issuer answers, one more discovery and it is done for good.
func TestJWTDiscoveryBacksOff(t *testing.T) {
	iss := jwttest.New(t)
	iss.SetDown(true)
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	v := auth.NewJWTVerifier(auth.JWTConfig{Issuer: iss.URL, Audiences: []string{"aud"}, Now: clk.Now})
	token := iss.Sign(t, iss.Claims("u", "aud", map[string]any{"roles": "viewer"}))
	verify := func() error { _, err := v.Verify(context.Background(), token); return err }

	// The first requests arrive together: one discovery.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := verify(); !errors.Is(err, auth.ErrJWTUnavailable) {
				t.Errorf("err = %v", err)
			}
		})
	}
	wg.Wait()
	if n := iss.Discoveries(); n != 1 {
		t.Fatalf("%d discoveries for 20 concurrent tokens, want 1", n)
	}
	want := 1
	for _, pause := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second} {
		// Within the pause: no request to the issuer, the rest of the pause.
		clk.Add(pause / 4)
		for range 10 {
			unavailable(t, verify(), pause-pause/4)
		}
		if n := iss.Discoveries(); n != want {
			t.Fatalf("%d discoveries within a %s pause, want %d", n, pause, want)
		}
		// The pause over: one more try, which fails and starts the next.
		clk.Add(pause - pause/4)
		err := verify()
		want++
		if n := iss.Discoveries(); n != want {
			t.Fatalf("%d discoveries after a %s pause, want %d", n, pause, want)
		}
		unavailable(t, err, min(2*pause, 30*time.Second))
	}

	iss.SetDown(false)
	unavailable(t, verify(), 30*time.Second) // still pausing
	clk.Add(30 * time.Second)
	for range 5 {
		if err := verify(); err != nil {
			t.Fatalf("issuer back: %v", err)
		}
	}
	if n := iss.Discoveries(); n != want+1 {
		t.Fatalf("%d discoveries, want %d: discovered once more, then never again", n, want+1)
	}
}

// TestJWKSRefetchLimit: tokens naming key IDs the cached keys lack fetch
// the JWKS at most once per interval (10 s) and are refused as invalid
// (key unknown) in between, however many and however concurrent; a key
// added by the issuer (rotation) is found once the interval has passed;
// a bad signature under a known key ID never fetches; a failed fetch
// pauses like discovery (1 s, 2 s, ...) with the tokens that need it told
// to retry, while tokens under cached keys keep working.
func TestJWKSRefetchLimit(t *testing.T) {
	iss := jwttest.New(t)
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	v := auth.NewJWTVerifier(auth.JWTConfig{Issuer: iss.URL, Audiences: []string{"aud"}, Now: clk.Now})
	claims := iss.Claims("u", "aud", map[string]any{"roles": "viewer"})
	good := iss.Sign(t, claims)
	verify := func(token string) error { _, err := v.Verify(context.Background(), token); return err }
	fetches := func(want int, when string) {
		t.Helper()
		if n := iss.JWKSFetches(); n != want {
			t.Fatalf("%s: %d JWKS fetches, want %d", when, n, want)
		}
	}

	if err := verify(good); err != nil {
		t.Fatal(err)
	}
	fetches(1, "first token")

	// A flood of made-up key IDs, concurrent: no fetch within the interval.
	stranger := jwttest.NewKey(t)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			err := verify(jwttest.SignWith(t, stranger, fmt.Sprintf("made-up-%d", i), claims))
			if !errors.Is(err, auth.ErrJWTInvalid) || !strings.Contains(err.Error(), "not among the issuer's keys") {
				t.Errorf("made-up kid: %v", err)
			}
		})
	}
	wg.Wait()
	fetches(1, "50 made-up key IDs within the interval")

	// Rotation: the issuer adds a key; within the interval it is unknown.
	rotated := jwttest.SignWith(t, iss.AddKey(t, "rotated"), "rotated", claims)
	if err := verify(rotated); !errors.Is(err, auth.ErrJWTInvalid) {
		t.Fatalf("rotated key within the interval: %v", err)
	}
	fetches(1, "rotated key within the interval")
	clk.Add(10 * time.Second)
	for range 20 {
		if err := verify(rotated); err != nil {
			t.Fatalf("rotated key after the interval: %v", err)
		}
	}
	fetches(2, "rotated key after the interval")

	// A wrong signature under a known key ID: refused, never a fetch.
	clk.Add(10 * time.Second)
	forged := jwttest.SignWith(t, stranger, iss.KeyID, claims)
	for range 10 {
		if err := verify(forged); !errors.Is(err, auth.ErrJWTInvalid) || !strings.Contains(err.Error(), "signature") {
			t.Fatalf("forged: %v", err)
		}
	}
	fetches(2, "forged signatures under a known key ID")

	// The issuer goes down: the next unknown key ID fetches once and fails;
	// the pause doubles; cached keys keep working throughout.
	iss.SetDown(true)
	unknown := jwttest.SignWith(t, stranger, "unknown", claims)
	unavailable(t, verify(unknown), time.Second)
	fetches(3, "issuer down")
	clk.Add(time.Second / 2)
	for range 10 {
		unavailable(t, verify(unknown), time.Second/2)
		if err := verify(good); err != nil {
			t.Fatalf("cached key, issuer down: %v", err)
		}
	}
	fetches(3, "within the pause")
	clk.Add(time.Second / 2)
	unavailable(t, verify(unknown), 2*time.Second)
	fetches(4, "after the pause")

	// Back up: after the pause one fetch, then the interval again.
	iss.SetDown(false)
	clk.Add(2 * time.Second)
	for range 10 {
		if err := verify(unknown); !errors.Is(err, auth.ErrJWTInvalid) {
			t.Fatalf("unknown kid, issuer back: %v", err)
		}
	}
	fetches(5, "issuer back")
	if n := iss.Discoveries(); n != 1 {
		t.Errorf("%d discoveries, want 1", n)
	}
}
