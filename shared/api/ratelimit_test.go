package api

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/metrics/metricstest"
	"github.com/jobweaver/jobweaver/shared/ratelimit"
)

// limitedBundle is a service with API_AUTH=keys, a seeded admin key and
// API_RATE_LIMIT/API_RATE_BURST set to rate and burst.
func limitedBundle(t *testing.T, rate float64, burst int) (*bundle, string) {
	t.Helper()
	admin, err := auth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Auth, cfg.AdminKey, cfg.RateLimit, cfg.RateBurst = AuthKeys, admin, rate, burst
	return setup(t, cfg), admin
}

// limitedRoute is a cheap viewer route (404: no such operation).
func limitedRoute() string { return "/api/operations/" + uuid.NewString() }

// rateHeaders reads the RateLimit-* headers; -1 for a missing one.
func rateHeaders(w *httptest.ResponseRecorder) (limit, remaining, reset int) {
	get := func(name string) int {
		v := w.Header().Get(name)
		if v == "" {
			return -1
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return -2
		}
		return n
	}
	return get("RateLimit-Limit"), get("RateLimit-Remaining"), get("RateLimit-Reset")
}

// Two callers, each with its own limit of 3 at once and a token every
// 10 s: the first gets its burst then 429s, with the headers counting
// down; the second is untouched.
func TestRateLimitTwoCallers(t *testing.T) {
	b, admin := limitedBundle(t, 1000, 1000)
	a := b.createKey(t, admin, `{"name":"a","role":"viewer","rateLimit":0.1,"rateBurst":3}`)
	c := b.createKey(t, admin, `{"name":"c","role":"viewer","rateLimit":0.1,"rateBurst":3}`)
	if a.RateLimit == nil || *a.RateLimit != 0.1 || a.RateBurst == nil || *a.RateBurst != 3 {
		t.Fatalf("created %+v", a)
	}
	type want struct {
		key       string
		limited   bool
		remaining int
	}
	for i, s := range []want{
		{a.Key, false, 2}, {a.Key, false, 1}, {a.Key, false, 0},
		{a.Key, true, 0}, {a.Key, true, 0},
		{c.Key, false, 2}, {c.Key, false, 1},
		{a.Key, true, 0},
		{c.Key, false, 0}, {c.Key, true, 0},
	} {
		w := b.do(http.MethodGet, limitedRoute(), "", bearer(s.key)...)
		limit, remaining, reset := rateHeaders(w)
		if limit != 3 || remaining != s.remaining || reset < 1 || reset > 30 {
			t.Fatalf("request %d: RateLimit-Limit %d, -Remaining %d, -Reset %d; want 3, %d, 1..30", i, limit, remaining, reset, s.remaining)
		}
		if !s.limited {
			if w.Code == http.StatusTooManyRequests {
				t.Fatalf("request %d: 429 %s", i, w.Body)
			}
			continue
		}
		e := wantError(t, w, http.StatusTooManyRequests, "API.RATE_LIMITED")
		ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
		if err != nil || ra < 9 || ra > 10 {
			t.Fatalf("request %d: Retry-After %q, want 10 (a token every 10 s)", i, w.Header().Get("Retry-After"))
		}
		if !strings.Contains(e.Message, "wait "+strconv.Itoa(ra)+" s") || !strings.Contains(e.Message, "higher rateLimit") {
			t.Fatalf("request %d: message %q does not say what to do", i, e.Message)
		}
	}
	// The admin key follows API_RATE_LIMIT.
	w := b.do(http.MethodGet, "/api/keys", "", bearer(admin)...)
	if limit, _, _ := rateHeaders(w); w.Code != http.StatusOK || limit != 1000 {
		t.Fatalf("admin: %d, RateLimit-Limit %d", w.Code, limit)
	}
	// The health checks are never limited, and carry no headers.
	for _, p := range []string{"/health", "/actuator/health"} {
		if w := b.do(http.MethodGet, p, "", bearer(a.Key)...); w.Code != http.StatusOK || w.Header().Get("RateLimit-Limit") != "" {
			t.Fatalf("%s: %d %v", p, w.Code, w.Header())
		}
	}
}

// A 403 (role too low) still spends a token: an authenticated caller
// cannot probe admin routes for free.
func TestRateLimitCountsForbidden(t *testing.T) {
	b, admin := limitedBundle(t, 0, 0)
	v := b.createKey(t, admin, `{"name":"v","role":"viewer","rateLimit":0.1,"rateBurst":1}`)
	if w := b.do(http.MethodGet, "/api/keys", "", bearer(v.Key)...); w.Code != http.StatusForbidden || w.Header().Get("RateLimit-Limit") != "1" {
		t.Fatalf("first = %d %v", w.Code, w.Header())
	}
	wantError(t, b.do(http.MethodGet, "/api/keys", "", bearer(v.Key)...), http.StatusTooManyRequests, "API.RATE_LIMITED")
}

// Limits off (the default) or a caller without one: no headers, no 429.
func TestRateLimitOff(t *testing.T) {
	cases := []struct {
		name string
		cfg  func(*Config)
		hdr  []string
	}{
		{"API_AUTH=none by default", func(*Config) {}, nil},
		{"API_AUTH=keys, API_RATE_LIMIT=0, a key without its own", func(c *Config) { c.Auth = AuthKeys }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			admin, _ := auth.Generate()
			cfg := DefaultConfig()
			cfg.AdminKey = admin
			c.cfg(&cfg)
			b := setup(t, cfg)
			for i := range 60 {
				w := b.do(http.MethodGet, limitedRoute(), "", bearer(admin)...)
				if w.Code == http.StatusTooManyRequests || w.Header().Get("RateLimit-Limit") != "" || w.Header().Get("Retry-After") != "" {
					t.Fatalf("request %d: %d %v", i, w.Code, w.Header())
				}
			}
		})
	}
}

// With API_AUTH=none and API_RATE_LIMIT set, the anonymous caller is
// limited (every client shares it); the health checks are not.
func TestRateLimitAnonymous(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RateLimit = 0.1 // burst defaults to twice the limit: 1
	b := setup(t, cfg)
	if b.svc.cfg.RateBurst != 1 {
		t.Fatalf("default burst %d", b.svc.cfg.RateBurst)
	}
	if w := b.do(http.MethodGet, limitedRoute(), ""); w.Code == http.StatusTooManyRequests || w.Header().Get("RateLimit-Limit") != "1" {
		t.Fatalf("first = %d %v", w.Code, w.Header())
	}
	wantError(t, b.do(http.MethodGet, limitedRoute(), ""), http.StatusTooManyRequests, "API.RATE_LIMITED")
	if w := b.do(http.MethodGet, "/health", ""); w.Code != http.StatusOK {
		t.Fatalf("health = %d", w.Code)
	}
}

// Two api services (two Lambda environments) on one database share a
// caller's bucket.
func TestRateLimitSharedAcrossServices(t *testing.T) {
	t.Run("slow: exactly the burst", func(t *testing.T) {
		b, admin := limitedBundle(t, 0, 0)
		k := b.createKey(t, admin, `{"name":"k","role":"viewer","rateLimit":0.1,"rateBurst":4}`)
		other := b.service(t, b.relay)
		admitted := 0
		for i := range 12 {
			h := b.svc.HTTPHandler()
			if i%2 == 1 {
				h = other.HTTPHandler()
			}
			if w := serve(h, http.MethodGet, limitedRoute(), "", bearer(k.Key)...); w.Code != http.StatusTooManyRequests {
				admitted++
			}
		}
		if admitted != 4 {
			t.Fatalf("two services admitted %d requests of a burst of 4", admitted)
		}
	})
	t.Run("fast: within burst + rate × (elapsed + lease TTL)", func(t *testing.T) {
		b, admin := limitedBundle(t, 0, 0)
		k := b.createKey(t, admin, `{"name":"k","role":"viewer","rateLimit":40,"rateBurst":20}`)
		svcs := []*Service{b.svc, b.service(t, b.relay), b.service(t, b.relay)}
		var admitted, limited atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := svcs[g%len(svcs)].HTTPHandler()
				for time.Since(start) < time.Second {
					if w := serve(h, http.MethodGet, limitedRoute(), "", bearer(k.Key)...); w.Code == http.StatusTooManyRequests {
						limited.Add(1)
					} else {
						admitted.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start).Seconds()
		bound := 20 + 40*(elapsed+ratelimit.DefaultLeaseTTL.Seconds())
		t.Logf("admitted %d, limited %d in %.2fs (bound %.0f)", admitted.Load(), limited.Load(), elapsed, bound)
		if float64(admitted.Load()) > bound || limited.Load() == 0 {
			t.Fatalf("admitted %d, limited %d in %.2fs: the bound is %.0f", admitted.Load(), limited.Load(), elapsed, bound)
		}
		if admitted.Load() < 20 {
			t.Fatalf("admitted only %d: less than the burst", admitted.Load())
		}
	})
}

// POST /api/keys: rateLimit and rateBurst are checked, stored and listed.
func TestKeyRateLimitFields(t *testing.T) {
	b, admin := keysBundle(t)
	bad := []struct{ name, body, detail string }{
		{"zero limit", `{"name":"a","role":"viewer","rateLimit":0}`, "rateLimit: "},
		{"negative limit", `{"name":"a","role":"viewer","rateLimit":-1}`, "rateLimit: "},
		{"huge limit", `{"name":"a","role":"viewer","rateLimit":1e9}`, "rateLimit: "},
		{"zero burst", `{"name":"a","role":"viewer","rateLimit":1,"rateBurst":0}`, "rateBurst: "},
		{"huge burst", `{"name":"a","role":"viewer","rateLimit":1,"rateBurst":10000000}`, "rateBurst: "},
		{"burst without limit", `{"name":"a","role":"viewer","rateBurst":5}`, "rateBurst: needs rateLimit"},
		{"string limit", `{"name":"a","role":"viewer","rateLimit":"5"}`, "rateLimit"},
		{"fractional burst", `{"name":"a","role":"viewer","rateLimit":1,"rateBurst":1.5}`, "rateBurst"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			w := b.do(http.MethodPost, "/api/keys", c.body, append(bearer(admin), "Content-Type", "application/json")...)
			if e := wantError(t, w, http.StatusBadRequest, "API.INVALID_REQUEST"); !strings.Contains(e.Message, c.detail) {
				t.Fatalf("message %q does not name %q", e.Message, c.detail)
			}
		})
	}
	good := []struct {
		name, body string
		limit      *float64
		burst      *int
	}{
		{"none", `{"name":"n","role":"viewer"}`, nil, nil},
		{"limit only: burst twice it", `{"name":"l","role":"viewer","rateLimit":2.5}`, ptr(2.5), ptr(5)},
		{"slow limit: burst at least 1", `{"name":"s","role":"viewer","rateLimit":0.01}`, ptr(0.01), ptr(1)},
		{"both", `{"name":"b","role":"operator","rateLimit":1,"rateBurst":7}`, ptr(1.0), ptr(7)},
	}
	for _, c := range good {
		t.Run(c.name, func(t *testing.T) {
			k := b.createKey(t, admin, c.body)
			if !eqPtr(k.RateLimit, c.limit) || !eqPtr(k.RateBurst, c.burst) {
				t.Fatalf("created %v %v, want %v %v", k.RateLimit, k.RateBurst, c.limit, c.burst)
			}
			var list KeyList
			decodeStrict(t, b.do(http.MethodGet, "/api/keys", "", bearer(admin)...), &list)
			if v := list.Content[0]; v.ID != k.ID || !eqPtr(v.RateLimit, c.limit) || !eqPtr(v.RateBurst, c.burst) {
				t.Fatalf("listed %+v", v)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func eqPtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// API_RATE_LIMIT and API_RATE_BURST.
func TestRateLimitConfig(t *testing.T) {
	cases := []struct {
		env   map[string]string
		limit float64
		burst int
		err   string
	}{
		{env: map[string]string{}, limit: 0, burst: 0},
		{env: map[string]string{"API_RATE_LIMIT": "10"}, limit: 10, burst: 20},
		{env: map[string]string{"API_RATE_LIMIT": "0.2"}, limit: 0.2, burst: 1},
		{env: map[string]string{"API_RATE_LIMIT": "10", "API_RATE_BURST": "3"}, limit: 10, burst: 3},
		{env: map[string]string{"API_RATE_LIMIT": "-1"}, err: "API_RATE_LIMIT"},
		{env: map[string]string{"API_RATE_LIMIT": "x"}, err: "API_RATE_LIMIT"},
		{env: map[string]string{"API_RATE_BURST": "-2"}, err: "API_RATE_BURST"},
	}
	for _, c := range cases {
		env := config.FromMap(c.env)
		cfg := ConfigFromEnv(env)
		if c.err != "" {
			if env.Err() == nil || !strings.Contains(env.Err().Error(), c.err) {
				t.Errorf("%v: error %v, want one naming %s", c.env, env.Err(), c.err)
			}
			continue
		}
		if env.Err() != nil || cfg.validate() != nil || cfg.RateLimit != c.limit || cfg.RateBurst != c.burst {
			t.Errorf("%v: %v %v, limit %v burst %d; want %v %d", c.env, env.Err(), cfg.validate(), cfg.RateLimit, cfg.RateBurst, c.limit, c.burst)
		}
	}
	bad := DefaultConfig()
	bad.RateLimit = 0.0001
	if err := bad.withDefaults().validate(); err == nil || !strings.Contains(err.Error(), "API_RATE_LIMIT") {
		t.Errorf("limit 0.0001: %v", err)
	}
}

// Every operation a caller with a role reaches documents the 429.
func TestOpenAPIDocumentsRateLimited(t *testing.T) {
	paths := mapAt(t, openAPI(t), "paths")
	for _, e := range Endpoints() {
		op := mapAt(t, paths, e.Path, strings.ToLower(e.Method))
		responses := mapAt(t, op, "responses")
		// The open callback route is limited by source address (its
		// failed callbacks, like failed authentications).
		limited := auth.Required(e.Method+" "+e.Path) != auth.Open || e.Path == "/api/jobs/{id}/callbacks/{token}"
		if limited != (responses["429"] != nil) {
			t.Errorf("%s %s: limited %v, documents 429 %v", e.Method, e.Path, limited, responses["429"] != nil)
		}
	}
}

// BenchmarkRateLimit is the limiter's cost per request in the api (a
// caller well under its limit, 1e5 requests/s, so that leases grow to
// their cap of rate × 100 ms): compare with limits off. leases/op is the
// share of requests that needed a round trip to the database.
func BenchmarkRateLimit(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			cfg := DefaultConfig()
			if on {
				cfg.RateLimit, cfg.RateBurst = MaxRateLimit, MaxRateBurst
			}
			bd := setup(b, cfg)
			var leases atomic.Int64
			bd.svc.limiter.lim = ratelimit.New(ratelimit.Config{Store: countingStore{ratelimit.PG{Pool: bd.pool}, &leases}})
			r := httptest.NewRequest(http.MethodGet, "/api/jobs", nil).WithContext(context.Background())
			c := auth.Caller{ID: auth.Anonymous, Role: auth.Admin}
			b.ResetTimer()
			for b.Loop() {
				w := httptest.NewRecorder()
				if !bd.svc.rateLimit(w, r, auth.Viewer, c) {
					b.Fatal("limited")
				}
			}
			b.ReportMetric(float64(leases.Load())/float64(b.N), "leases/op")
		})
	}
}

// countingStore counts the leases a Store serves.
type countingStore struct {
	ratelimit.Store
	n *atomic.Int64
}

func (c countingStore) Lease(ctx context.Context, p ratelimit.LeaseParams) (ratelimit.Lease, error) {
	c.n.Add(1)
	return c.Store.Lease(ctx, p)
}

// With API_RATE_LIMIT on, failed authentications from one address are
// limited too (before any key lookup); another address is untouched.
func TestRateLimitFailedAuth(t *testing.T) {
	b, admin := limitedBundle(t, 0.1, 3)
	unknown, _ := auth.Generate()
	from := func(addr, key string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, limitedRoute(), nil)
		r.RemoteAddr = addr
		r.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		b.svc.HTTPHandler().ServeHTTP(w, r)
		return w
	}
	for range 3 {
		wantError(t, from("198.51.100.7:4000", unknown), http.StatusUnauthorized, "API.UNAUTHENTICATED")
	}
	w := from("198.51.100.7:4001", unknown)
	e := wantError(t, w, http.StatusTooManyRequests, "API.RATE_LIMITED")
	if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 10 || !strings.Contains(e.Message, "failed authentications") {
		t.Fatalf("Retry-After %q, message %q", w.Header().Get("Retry-After"), e.Message)
	}
	if w := from("203.0.113.9:4000", admin); w.Code == http.StatusTooManyRequests || w.Code == http.StatusUnauthorized {
		t.Fatalf("another address: %d %s", w.Code, w.Body)
	}
	// Off with API_RATE_LIMIT=0: 401s all the way.
	k, _ := keysBundle(t)
	for i := range 20 {
		if w := k.do(http.MethodGet, limitedRoute(), "", bearer(unknown)...); w.Code != http.StatusUnauthorized {
			t.Fatalf("request %d: %d", i, w.Code)
		}
	}
}

// 429s count in RateLimited; with the database out of reach the limiter
// fails open to the process's own bucket, counts RateLimitStoreErrors and
// warns once.
func TestRateLimitMetricsAndFailOpen(t *testing.T) {
	var out bytes.Buffer
	cfg := DefaultConfig()
	cfg.Metrics, cfg.RateLimit, cfg.RateBurst = metrics.New(&out, "api"), 0.1, 2
	b := setup(t, cfg)
	for range 3 {
		b.do(http.MethodGet, limitedRoute(), "")
	}
	if got := metricstest.Parse(t, out.Bytes()).Sum("RateLimited", "Service", "api"); got != 1 {
		t.Fatalf("RateLimited = %v, want 1\n%s", got, out.String())
	}

	closed, err := pgxpool.New(context.Background(), b.pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	b.svc.limiter = b.svc.newRateLimiter(ratelimit.PG{Pool: closed})
	out.Reset()
	for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests} {
		w := b.do(http.MethodGet, limitedRoute(), "")
		if (w.Code == http.StatusTooManyRequests) != (want == http.StatusTooManyRequests) || w.Header().Get("RateLimit-Limit") != "2" {
			t.Fatalf("store down, request %d: %d %v", i, w.Code, w.Header())
		}
	}
	if got := metricstest.Parse(t, out.Bytes()).Sum("RateLimitStoreErrors", "Service", "api"); got != 1 {
		t.Fatalf("RateLimitStoreErrors = %v, want 1 (then 1 s of local decisions)", got)
	}
	if n := strings.Count(b.logs.String(), "rate limits fail open"); n != 1 {
		t.Fatalf("%d fail-open warnings", n)
	}
}
