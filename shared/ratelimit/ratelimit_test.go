package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/api"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/ratelimit"
)

// pool is a fresh api database (rate_buckets comes from its migration
// 00006).
func pool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	return pgtest.Pool(tb, api.Migrations())
}

// counting counts the leases a Store serves.
type counting struct {
	ratelimit.Store
	n atomic.Int64
}

func (c *counting) Lease(ctx context.Context, p ratelimit.LeaseParams) (ratelimit.Lease, error) {
	c.n.Add(1)
	return c.Store.Lease(ctx, p)
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func near(got, want time.Duration) bool {
	d := got - want
	return d > -200*time.Millisecond && d < 200*time.Millisecond
}

// The SQL bucket: each step leases want tokens from one caller's bucket
// (a slow rate, so that the few milliseconds of the test refill nothing).
func TestPGLease(t *testing.T) {
	store := ratelimit.PG{Pool: pool(t)}
	ctx := context.Background()
	slow := ratelimit.Limit{Rate: 0.1, Burst: 5} // a token every 10 s
	type step struct {
		want               int
		granted, remaining int
		reset, retryAfter  time.Duration
	}
	cases := []struct {
		name  string
		limit ratelimit.Limit
		steps []step
	}{
		{"a new bucket is full", slow, []step{
			{want: 3, granted: 3, remaining: 2, reset: 30 * time.Second},
			{want: 3, granted: 2, remaining: 0, reset: 50 * time.Second},
			{want: 1, granted: 0, remaining: 0, reset: 50 * time.Second, retryAfter: 10 * time.Second},
		}},
		{"a lease never exceeds the burst", slow, []step{
			{want: 9, granted: 5, remaining: 0, reset: 50 * time.Second},
			{want: 9, granted: 0, remaining: 0, reset: 50 * time.Second, retryAfter: 10 * time.Second},
		}},
		{"burst 1", ratelimit.Limit{Rate: 0.5, Burst: 1}, []step{
			{want: 1, granted: 1, remaining: 0, reset: 2 * time.Second},
			{want: 1, granted: 0, remaining: 0, reset: 2 * time.Second, retryAfter: 2 * time.Second},
		}},
		{"a fast bucket refills between steps", ratelimit.Limit{Rate: 1000, Burst: 2}, []step{
			{want: 2, granted: 2, remaining: 0, reset: 2 * time.Millisecond},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i, s := range c.steps {
				l, err := store.Lease(ctx, ratelimit.LeaseParams{Caller: c.name, Limit: c.limit, Want: s.want})
				if err != nil {
					t.Fatal(err)
				}
				if l.Granted != s.granted || l.Remaining != s.remaining || !near(l.Reset, s.reset) || !near(l.RetryAfter, s.retryAfter) {
					t.Fatalf("step %d: lease %+v, want %+v", i, l, s)
				}
			}
		})
	}
	if _, err := store.Lease(ctx, ratelimit.LeaseParams{Caller: "x", Limit: ratelimit.Limit{}, Want: 1}); err == nil {
		t.Error("a lease under no limit succeeded")
	}
}

// Concurrent leases of one caller never grant more than the bucket holds.
func TestPGLeaseConcurrent(t *testing.T) {
	store := ratelimit.PG{Pool: pool(t)}
	l := ratelimit.Limit{Rate: 0.01, Burst: 25}
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := store.Lease(context.Background(), ratelimit.LeaseParams{Caller: "c", Limit: l, Want: 2})
			if err != nil {
				t.Error(err)
			}
			granted.Add(int64(got.Granted))
		}()
	}
	wg.Wait()
	if g := granted.Load(); g != 25 {
		t.Fatalf("granted %d tokens of a bucket of 25", g)
	}
}

// The local bucket alone (no Store): a table of requests on a fake clock.
func TestLimiterLocal(t *testing.T) {
	type req struct {
		after      time.Duration // clock moves first
		caller     string
		allowed    bool
		remaining  int
		retryAfter time.Duration
	}
	l := ratelimit.Limit{Rate: 1, Burst: 3}
	cases := []struct {
		name string
		reqs []req
	}{
		{"burst then denied then refilled", []req{
			{caller: "a", allowed: true, remaining: 2},
			{caller: "a", allowed: true, remaining: 1},
			{caller: "a", allowed: true, remaining: 0},
			{caller: "a", allowed: false, retryAfter: time.Second},
			{after: 500 * time.Millisecond, caller: "a", allowed: false, retryAfter: 500 * time.Millisecond},
			{after: 500 * time.Millisecond, caller: "a", allowed: true, remaining: 0},
		}},
		{"one caller's burst never limits another", []req{
			{caller: "a", allowed: true, remaining: 2},
			{caller: "a", allowed: true, remaining: 1},
			{caller: "a", allowed: true, remaining: 0},
			{caller: "a", allowed: false, retryAfter: time.Second},
			{caller: "b", allowed: true, remaining: 2},
			{caller: "b", allowed: true, remaining: 1},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := &clock{t: time.Unix(1e9, 0)}
			lm := ratelimit.New(ratelimit.Config{Now: clk.now})
			for i, r := range c.reqs {
				clk.add(r.after)
				d := lm.Allow(context.Background(), r.caller, l)
				if d.Allowed != r.allowed || d.Limit != 3 || (r.allowed && d.Remaining != r.remaining) ||
					(!r.allowed && !near(d.RetryAfter, r.retryAfter)) {
					t.Fatalf("request %d (%s): %+v, want %+v", i, r.caller, d, r)
				}
			}
		})
	}
	if d := ratelimit.New(ratelimit.Config{}).Allow(context.Background(), "a", ratelimit.Limit{}); !d.Allowed || d.Limit != 0 {
		t.Fatalf("no limit: %+v", d)
	}
}

// Two Limiters (two processes) on one database share a caller's bucket:
// together they admit the burst and no more; another caller is untouched.
func TestLimiterShared(t *testing.T) {
	store := &counting{Store: ratelimit.PG{Pool: pool(t)}}
	l := ratelimit.Limit{Rate: 0.1, Burst: 10}
	a := ratelimit.New(ratelimit.Config{Store: store})
	b := ratelimit.New(ratelimit.Config{Store: store})
	ctx := context.Background()
	allowed := 0
	var last ratelimit.Decision
	for i := range 30 {
		lm := a
		if i%2 == 1 {
			lm = b
		}
		last = lm.Allow(ctx, "busy", l)
		if last.Allowed {
			allowed++
		}
	}
	if allowed != 10 {
		t.Fatalf("two processes admitted %d requests of a burst of 10", allowed)
	}
	if last.Allowed || last.RetryAfter < 9*time.Second || last.RetryAfter > 10*time.Second || last.Remaining != 0 {
		t.Fatalf("last decision %+v, want a denial for about 10 s", last)
	}
	// Denials are remembered: after each process's first denial, no more
	// round trips (10 grants of 1 token, one denial each).
	if n := store.n.Load(); n != 12 {
		t.Errorf("%d leases for 30 requests, want 12", n)
	}
	if d := a.Allow(ctx, "quiet", l); !d.Allowed || d.Remaining != 9 {
		t.Fatalf("another caller: %+v", d)
	}
}

// A busy caller's leases grow, so that round trips become rare; tokens
// never exceed the burst plus what the rate adds meanwhile.
func TestLimiterLeasesGrow(t *testing.T) {
	store := &counting{Store: ratelimit.PG{Pool: pool(t)}}
	l := ratelimit.Limit{Rate: 1000, Burst: 2000}
	lm := ratelimit.New(ratelimit.Config{Store: store})
	start := time.Now()
	allowed := 0
	for range 1500 {
		if lm.Allow(context.Background(), "busy", l).Allowed {
			allowed++
		}
	}
	if allowed != 1500 {
		t.Fatalf("%d of 1500 requests within the burst admitted", allowed)
	}
	// Leases of 1, 2, 4, ..., 64, then 100 (rate × 100 ms): about 21.
	if n := store.n.Load(); n > 30 {
		t.Errorf("%d leases for 1500 requests (%v)", n, time.Since(start))
	}
}

// With the store unreachable the Limiter fails open to the local bucket,
// reports the error, and asks the store again only after LeaseTTL.
func TestLimiterStoreDown(t *testing.T) {
	p := pool(t)
	p.Close()
	var errs atomic.Int64
	clk := &clock{t: time.Unix(1e9, 0)}
	lm := ratelimit.New(ratelimit.Config{Store: ratelimit.PG{Pool: p}, Now: clk.now,
		OnStoreError: func(string, error) { errs.Add(1) }})
	l := ratelimit.Limit{Rate: 0.1, Burst: 3}
	steps := []struct {
		after   time.Duration
		allowed bool
		errs    int64
	}{
		{0, true, 1}, {0, true, 1}, // within LeaseTTL of the failure: no new try
		{time.Second, true, 2},
		{0, false, 2}, // the local bucket (3 at once) is empty
	}
	for i, st := range steps {
		clk.add(st.after)
		d := lm.Allow(context.Background(), "c", l)
		if d.Allowed != st.allowed || (st.allowed && !d.Degraded) || errs.Load() != st.errs {
			t.Fatalf("step %d: %+v, %d errors; want allowed=%v (degraded), %d errors", i, d, errs.Load(), st.allowed, st.errs)
		}
	}
}

// BenchmarkAllow is one decision: local is the x/time/rate bucket alone
// (no store); pg leases from Postgres, rate 1e5/s so that leases grow to
// their cap (rate × 100 ms, 10000 tokens); pg-slow is a caller at 50/s
// (leases of 5, so a round trip every 5 requests at most). leases/op is
// the share of decisions that needed a round trip.
func BenchmarkAllow(b *testing.B) {
	cases := []struct {
		name  string
		pg    bool
		limit ratelimit.Limit
	}{
		{"local", false, ratelimit.Limit{Rate: 1e5, Burst: 1e6}},
		{"pg", true, ratelimit.Limit{Rate: 1e5, Burst: 1e6}},
		{"pg-slow", true, ratelimit.Limit{Rate: 50, Burst: 1e6}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cfg := ratelimit.Config{}
			store := &counting{}
			if c.pg {
				store.Store = ratelimit.PG{Pool: pool(b)}
				cfg.Store = store
			}
			lm := ratelimit.New(cfg)
			ctx := context.Background()
			for b.Loop() {
				if !lm.Allow(ctx, "bench", c.limit).Allowed {
					b.Fatal("denied")
				}
			}
			b.ReportMetric(float64(store.n.Load())/float64(b.N), "leases/op")
		})
	}
}

// BenchmarkLease is one round trip to the shared bucket.
func BenchmarkLease(b *testing.B) {
	store := ratelimit.PG{Pool: pool(b)}
	p := ratelimit.LeaseParams{Caller: "bench", Limit: ratelimit.Limit{Rate: 1e5, Burst: 1e6}, Want: 10}
	for b.Loop() {
		if _, err := store.Lease(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
}

// Prune deletes the buckets that are full again and keeps the others,
// and a lease after a prune decides as if the row had stayed.
func TestPGPrune(t *testing.T) {
	p := pool(t)
	store := ratelimit.PG{Pool: p}
	ctx := context.Background()
	if _, err := p.Exec(ctx, `INSERT INTO rate_buckets (caller, tat, granted) VALUES
		('full-long-ago', extract(epoch FROM now()) - 3600, 1),
		('full-just-now', extract(epoch FROM now()) - 0.001, 1),
		('draining', extract(epoch FROM now()) + 30, 1)`); err != nil {
		t.Fatal(err)
	}
	n, err := store.Prune(ctx, 1000)
	if err != nil || n != 2 {
		t.Fatalf("Prune = %d, %v; want the 2 full buckets", n, err)
	}
	var left []string
	rows, _ := p.Query(ctx, `SELECT caller FROM rate_buckets ORDER BY caller`)
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		left = append(left, c)
	}
	if rows.Err() != nil || len(left) != 1 || left[0] != "draining" {
		t.Fatalf("left %v (%v); want [draining]", left, rows.Err())
	}
	// A pruned caller gets a full bucket, as it would have anyway.
	l, err := store.Lease(ctx, ratelimit.LeaseParams{Caller: "full-long-ago", Limit: ratelimit.Limit{Rate: 0.1, Burst: 5}, Want: 9})
	if err != nil || l.Granted != 5 {
		t.Fatalf("lease after prune = %+v, %v; want the burst of 5", l, err)
	}
	// The draining one still is: 30 s of a 10 s interval left, burst 5 → 2 tokens.
	l, err = store.Lease(ctx, ratelimit.LeaseParams{Caller: "draining", Limit: ratelimit.Limit{Rate: 0.1, Burst: 5}, Want: 9})
	if err != nil || l.Granted != 2 {
		t.Fatalf("lease of the kept bucket = %+v, %v; want 2", l, err)
	}
}
