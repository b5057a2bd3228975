package api

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/ratelimit"
)

// Rate limit bounds (API_RATE_LIMIT, API_RATE_BURST and a key's own
// rateLimit and rateBurst).
const (
	MaxRateLimit = 100000.0
	MinRateLimit = 0.001
	MaxRateBurst = 1000000
)

// storeErrorLogEvery spaces the warnings of a rate-limit store that
// cannot be reached (every failure is counted in RateLimitStoreErrors).
const storeErrorLogEvery = 10 * time.Second

// rateLimiter is the api's side of shared/ratelimit: the Limiter over
// the api database, the own limits of the keys seen, and the buckets of
// failed authentications per source address.
type rateLimiter struct {
	lim     *ratelimit.Limiter
	own     sync.Map     // key ID -> ratelimit.Limit, from the key lookups
	lastLog atomic.Int64 // UnixNano of the last store warning

	failMu sync.Mutex
	fails  map[string]*rate.Limiter // source address -> its failed authentications
}

// rateLimitFromEnv reads API_RATE_LIMIT and API_RATE_BURST into c.
func (c Config) rateLimitFromEnv(env *config.Env) Config {
	c.RateLimit = env.Float("API_RATE_LIMIT", 0, 0, MaxRateLimit)
	c.RateBurst = env.Int("API_RATE_BURST", 0, 0, MaxRateBurst)
	return c
}

// rateLimitDefaults gives a rate limit without a burst twice the rate.
func (c Config) rateLimitDefaults() Config {
	if c.RateLimit > 0 && c.RateBurst == 0 {
		c.RateBurst = min(ratelimit.DefaultBurst(c.RateLimit), MaxRateBurst)
	}
	return c
}

// validateRateLimit checks API_RATE_LIMIT and API_RATE_BURST.
func (c Config) validateRateLimit() error {
	switch {
	case math.IsNaN(c.RateLimit) || c.RateLimit < 0 || c.RateLimit > MaxRateLimit || (c.RateLimit > 0 && c.RateLimit < MinRateLimit):
		return config.Invalid("API_RATE_LIMIT", "0 (off) or requests per second from 0.001 to 100000", c.RateLimit)
	case c.RateBurst < 0 || c.RateBurst > MaxRateBurst:
		return config.Invalid("API_RATE_BURST", "from 1 to 1000000 (0: twice API_RATE_LIMIT)", c.RateBurst)
	}
	return nil
}

// newRateLimiter builds the limiter over store (ratelimit.PG over the
// api database).
func (s *Service) newRateLimiter(store ratelimit.Store) *rateLimiter {
	rl := &rateLimiter{fails: map[string]*rate.Limiter{}}
	rl.lim = ratelimit.New(ratelimit.Config{
		Store: store,
		OnStoreError: func(caller string, err error) {
			s.metrics.Count("RateLimitStoreErrors", 1)
			now := time.Now().UnixNano()
			last := rl.lastLog.Load()
			if now-last >= int64(storeErrorLogEvery) && rl.lastLog.CompareAndSwap(last, now) {
				s.log.Warn("rate limits fail open: the shared buckets cannot be reached, each process limits on its own",
					"caller", caller, "error", err.Error())
			}
		},
	})
	return rl
}

// noteKeyLimit remembers the own limit of a key just looked up (a key's
// limit is set at its creation and never changes).
func (s *Service) noteKeyLimit(rec *keyRecord) {
	if rec.rateLimit == nil {
		return
	}
	l := ratelimit.Limit{Rate: *rec.rateLimit, Burst: ratelimit.DefaultBurst(*rec.rateLimit)}
	if rec.rateBurst != nil {
		l.Burst = *rec.rateBurst
	}
	s.limiter.own.Store(rec.id, l)
}

// limitOf is caller c's limit: its key's own, else API_RATE_LIMIT (off
// when 0).
func (s *Service) limitOf(c auth.Caller) ratelimit.Limit {
	if l, ok := s.limiter.own.Load(c.ID); ok {
		return l.(ratelimit.Limit)
	}
	return ratelimit.Limit{Rate: s.cfg.RateLimit, Burst: s.cfg.RateBurst}
}

// rateLimit spends one of caller c's tokens for a route that needs role
// need: it sets the RateLimit-* headers and, past the limit, writes 429
// API.RATE_LIMITED with Retry-After and reports false. Open routes (the
// health checks) and callers without a limit pass untouched.
func (s *Service) rateLimit(w http.ResponseWriter, r *http.Request, need auth.Role, c auth.Caller) bool {
	if need == auth.Open {
		return true
	}
	l := s.limitOf(c)
	if !l.On() {
		return true
	}
	d := s.limiter.lim.Allow(r.Context(), c.ID, l)
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.Reset, 0)))
	if d.Allowed {
		return true
	}
	wait := ceilSeconds(d.RetryAfter, 1)
	h.Set("Retry-After", strconv.Itoa(wait))
	s.metrics.Count("RateLimited", 1)
	apierror.Write(w, r, s.log, namespace, apierror.New(http.StatusTooManyRequests, "API.RATE_LIMITED",
		fmt.Sprintf("too many requests: this caller's limit is %s requests/s with bursts of %d; wait %d s (Retry-After) and try again, or ask an admin for a key with a higher rateLimit",
			strconv.FormatFloat(l.Rate, 'f', -1, 64), l.Burst, wait)))
	return false
}

// failBucket is the bucket of failed authentications from r's source
// address (API Gateway's sourceIp in Lambda, the peer locally), nil when
// API_RATE_LIMIT is off.
func (s *Service) failBucket(r *http.Request) *rate.Limiter {
	if s.cfg.RateLimit <= 0 {
		return nil
	}
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	rl := s.limiter
	rl.failMu.Lock()
	defer rl.failMu.Unlock()
	b, ok := rl.fails[addr]
	if !ok {
		if len(rl.fails) >= ratelimit.DefaultMaxCallers {
			clear(rl.fails)
		}
		b = rate.NewLimiter(rate.Limit(s.cfg.RateLimit), s.cfg.RateBurst)
		rl.fails[addr] = b
	}
	return b
}

// authFailuresAllowed reports whether r's source address may try to
// authenticate: with API_RATE_LIMIT on, each address may fail (401) at
// API_RATE_LIMIT a second with bursts of API_RATE_BURST, in each process;
// past it, the request is refused with 429 before its credentials cost a
// key lookup or a JWKS fetch.
func (s *Service) authFailuresAllowed(w http.ResponseWriter, r *http.Request) bool {
	b := s.failBucket(r)
	if b == nil {
		return true
	}
	now := time.Now()
	tokens := b.TokensAt(now)
	if tokens >= 1 {
		return true
	}
	wait := ceilSeconds(time.Duration((1-tokens)/s.cfg.RateLimit*float64(time.Second)), 1)
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(s.cfg.RateBurst))
	h.Set("RateLimit-Remaining", "0")
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(time.Duration((float64(s.cfg.RateBurst)-tokens)/s.cfg.RateLimit*float64(time.Second)), 1)))
	h.Set("Retry-After", strconv.Itoa(wait))
	s.metrics.Count("RateLimited", 1)
	apierror.Write(w, r, s.log, namespace, apierror.New(http.StatusTooManyRequests, "API.RATE_LIMITED",
		fmt.Sprintf("too many failed authentications from this address; wait %d s (Retry-After) and try again with a valid key or token", wait)))
	return false
}

// authFailed spends a token of r's source address when err is a 401.
func (s *Service) authFailed(r *http.Request, err error) {
	var e *apierror.Error
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
		return
	}
	if b := s.failBucket(r); b != nil {
		b.Allow()
	}
}

// ceilSeconds rounds d up to whole seconds, at least least.
func ceilSeconds(d time.Duration, least int) int {
	return max(least, int(math.Ceil(d.Seconds())))
}

// keyLimitRequest checks a key request's rateLimit and rateBurst: the
// columns to store (nil, nil without a limit of its own) or what is wrong.
func keyLimitRequest(limit *float64, burst *int) (*float64, *int, []string) {
	var details []string
	if limit == nil {
		if burst != nil {
			details = append(details, "rateBurst: needs rateLimit (without one the key follows API_RATE_LIMIT and API_RATE_BURST)")
		}
		return nil, nil, details
	}
	if math.IsNaN(*limit) || *limit < MinRateLimit || *limit > MaxRateLimit {
		details = append(details, fmt.Sprintf("rateLimit: requests per second, from %g to %g", MinRateLimit, MaxRateLimit))
	}
	if burst != nil && (*burst < 1 || *burst > MaxRateBurst) {
		details = append(details, fmt.Sprintf("rateBurst: an integer from 1 to %d (default: twice rateLimit)", MaxRateBurst))
	}
	if len(details) > 0 {
		return nil, nil, details
	}
	b := min(ratelimit.DefaultBurst(*limit), MaxRateBurst)
	if burst != nil {
		b = *burst
	}
	return limit, &b, nil
}
