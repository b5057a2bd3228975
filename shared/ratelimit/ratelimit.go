package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a caller's allowance: Rate tokens a second, at most Burst at
// once. Each request spends one token.
type Limit struct {
	Rate  float64
	Burst int
}

// On reports whether l limits anything.
func (l Limit) On() bool { return l.Rate > 0 && l.Burst > 0 }

// DefaultBurst is the burst of a limit set without one: twice the rate,
// at least 1.
func DefaultBurst(r float64) int {
	return max(1, int(math.Ceil(2*r)))
}

// Decision is the answer for one request.
type Decision struct {
	// Allowed reports whether the request may go on.
	Allowed bool
	// Limit is the burst: how many requests may come at once.
	Limit int
	// Remaining estimates how many more requests would be admitted now:
	// the tokens this process holds plus what the shared bucket held at
	// its last lease (never more than Limit).
	Remaining int
	// Reset is how long until the bucket is full again.
	Reset time.Duration
	// RetryAfter is how long until the next request can be admitted,
	// when it is not.
	RetryAfter time.Duration
	// Degraded reports that the store could not be reached, so that
	// only this process's bucket decided.
	Degraded bool
}

// Store holds the shared buckets.
type Store interface {
	// Lease takes up to want tokens from caller's bucket.
	Lease(ctx context.Context, p LeaseParams) (Lease, error)
}

// LeaseParams asks a Store for tokens.
type LeaseParams struct {
	Caller string
	Limit  Limit
	Want   int
}

// Lease is what a Store granted, and the state of the bucket after it.
type Lease struct {
	// Granted is how many tokens were taken (0 to Want).
	Granted int
	// Remaining is how many tokens the bucket still holds.
	Remaining int
	// Reset is how long until the bucket is full.
	Reset time.Duration
	// RetryAfter, when Granted is 0, is how long until one token is there.
	RetryAfter time.Duration
}

// Defaults of Config.
const (
	DefaultLeaseTTL     = time.Second
	DefaultLeaseWindow  = 100 * time.Millisecond
	DefaultStoreTimeout = time.Second
	DefaultMaxCallers   = 10000
)

// Config tunes a Limiter; zero fields take their defaults.
type Config struct {
	// Store holds the shared buckets; nil limits each process on its own
	// (tests, and what a Lambda environment alone would do).
	Store Store
	// LeaseTTL is how long leased tokens may be spent (DefaultLeaseTTL):
	// the bound on the overshoot across processes is rate×LeaseTTL.
	LeaseTTL time.Duration
	// LeaseWindow caps a lease at rate×LeaseWindow tokens
	// (DefaultLeaseWindow; and at half the burst).
	LeaseWindow time.Duration
	// StoreTimeout bounds one lease (DefaultStoreTimeout); past it the
	// Limiter fails open to the local bucket.
	StoreTimeout time.Duration
	// MaxCallers bounds the callers remembered; past it the Limiter
	// starts over (DefaultMaxCallers).
	MaxCallers int
	// OnStoreError, when set, hears every failed lease.
	OnStoreError func(caller string, err error)
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Limiter decides, per caller, whether a request may go on.
type Limiter struct {
	cfg Config

	mu      sync.Mutex
	callers map[string]*bucket
}

// bucket is one caller's state in this process.
type bucket struct {
	mu      sync.Mutex
	limit   Limit
	local   *rate.Limiter
	leased  int       // tokens held, spendable until expires
	expires time.Time // of the lease
	size    int       // the next lease's size
	denied  time.Time // the store said no until then
	shared  int       // the store's remaining tokens at the last lease
	full    time.Time // when the store's bucket is full, as of the last lease
	down    time.Time // the store failed: decide locally until then
}

// New returns a Limiter.
func New(cfg Config) *Limiter {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.LeaseWindow <= 0 {
		cfg.LeaseWindow = DefaultLeaseWindow
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	if cfg.MaxCallers <= 0 {
		cfg.MaxCallers = DefaultMaxCallers
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, callers: map[string]*bucket{}}
}

// maxLease is the largest lease for l: rate×window tokens, at most half
// the burst, at least 1.
func (lm *Limiter) maxLease(l Limit) int {
	n := int(l.Rate * lm.cfg.LeaseWindow.Seconds())
	return max(1, min(n, l.Burst/2))
}

// bucketOf returns caller's bucket, made for l if it is new.
func (lm *Limiter) bucketOf(caller string, l Limit) *bucket {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	b, ok := lm.callers[caller]
	if !ok {
		if len(lm.callers) >= lm.cfg.MaxCallers {
			clear(lm.callers)
		}
		b = &bucket{limit: l, local: rate.NewLimiter(rate.Limit(l.Rate), l.Burst), size: 1}
		lm.callers[caller] = b
	}
	return b
}

// Allow decides whether caller may make one more request under l. A limit
// that is not On always allows, with an empty Decision.
func (lm *Limiter) Allow(ctx context.Context, caller string, l Limit) Decision {
	if !l.On() {
		return Decision{Allowed: true}
	}
	now := lm.cfg.Now()
	b := lm.bucketOf(caller, l)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.limit != l {
		b.limit = l
		b.local.SetLimitAt(now, rate.Limit(l.Rate))
		b.local.SetBurstAt(now, l.Burst)
		b.size = 1
	}
	d := Decision{Limit: l.Burst}

	if now.Before(b.denied) {
		return b.deny(d, now, b.denied.Sub(now))
	}
	r := b.local.ReserveN(now, 1)
	if wait := r.DelayFrom(now); !r.OK() || wait > 0 {
		r.CancelAt(now)
		return b.deny(d, now, wait)
	}
	if b.leased > 0 && now.Before(b.expires) {
		b.leased--
		return b.allow(d, now)
	}
	if lm.cfg.Store == nil || now.Before(b.down) {
		d.Degraded = lm.cfg.Store != nil
		b.shared = int(b.local.TokensAt(now))
		b.full = now.Add(time.Duration((float64(l.Burst) - b.local.TokensAt(now)) / l.Rate * float64(time.Second)))
		return b.allow(d, now)
	}

	// A new lease: bigger when the last one was spent before it expired,
	// smaller when tokens were left over.
	switch {
	case b.expires.IsZero():
	case b.leased == 0 && !now.After(b.expires):
		b.size = min(2*b.size, lm.maxLease(l))
	case b.leased > 0:
		b.size = max(1, b.size/2)
	}
	b.size = min(b.size, lm.maxLease(l))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lm.cfg.StoreTimeout)
	lease, err := lm.cfg.Store.Lease(sctx, LeaseParams{Caller: caller, Limit: l, Want: b.size})
	cancel()
	if err != nil {
		if lm.cfg.OnStoreError != nil {
			lm.cfg.OnStoreError(caller, err)
		}
		b.leased, b.expires = 0, time.Time{}
		b.down = now.Add(lm.cfg.LeaseTTL)
		b.shared = int(b.local.TokensAt(now))
		d.Degraded = true
		return b.allow(d, now)
	}
	b.shared, b.full = lease.Remaining, now.Add(lease.Reset)
	if lease.Granted == 0 {
		r.CancelAt(now)
		b.leased, b.expires = 0, time.Time{}
		b.denied = now.Add(lease.RetryAfter)
		return b.deny(d, now, lease.RetryAfter)
	}
	b.leased, b.expires = lease.Granted-1, now.Add(lm.cfg.LeaseTTL)
	return b.allow(d, now)
}

func (b *bucket) allow(d Decision, now time.Time) Decision {
	d.Allowed = true
	d.Remaining = max(0, min(d.Limit, b.leased+b.shared, int(b.local.TokensAt(now))))
	d.Reset = max(0, b.full.Sub(now))
	return d
}

func (b *bucket) deny(d Decision, now time.Time, wait time.Duration) Decision {
	d.RetryAfter = max(wait, time.Millisecond)
	d.Reset = max(d.RetryAfter, b.full.Sub(now))
	return d
}
