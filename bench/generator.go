package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// generator offers one-job POSTs at a fixed rate (open loop: an answer
// never paces the next send) with at most conns requests open at once,
// over a client that never opens more connections than that. A send that
// finds every slot taken is not made (counted in skipped): the generator
// bounds its own descriptors instead of opening them without limit.
type generator struct {
	url   string
	job   []byte
	conns int
	http  *http.Client

	offered, skipped, accepted, shed, errored atomic.Int64
	status                                    sync.Map // status code -> *atomic.Int64, for the answers other than 202

	mu   sync.Mutex
	sent map[string]time.Time // accepted job -> when it was sent
}

func newGenerator(apiURL string, job []byte, conns int) *generator {
	tr := &http.Transport{MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns, MaxIdleConns: conns, IdleConnTimeout: 30 * time.Second}
	return &generator{url: apiURL + "/api/jobs", job: job, conns: conns, sent: map[string]time.Time{},
		http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// run offers rate jobs/s for d; progress, if set, is called about every
// second while it runs.
func (g *generator) run(ctx context.Context, rate int, d time.Duration, progress func(elapsed time.Duration)) {
	slots := make(chan struct{}, g.conns)
	interval := time.Second / time.Duration(rate)
	total := int(d.Seconds() * float64(rate))
	start := time.Now()
	lastReport := start
	var wg sync.WaitGroup
	for i := 0; i < total; i++ {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		g.offered.Add(1)
		if progress != nil && time.Since(lastReport) >= time.Second {
			lastReport = time.Now()
			progress(lastReport.Sub(start))
		}
		select {
		case slots <- struct{}{}:
		default:
			g.skipped.Add(1)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			g.send(ctx)
		}()
	}
	wg.Wait()
	g.http.CloseIdleConnections()
}

func (g *generator) send(ctx context.Context) {
	t := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url, bytes.NewReader(g.job))
	if err != nil {
		g.errored.Add(1)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.http.Do(req)
	if err != nil {
		g.errored.Add(1)
		g.count(0)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusAccepted:
		var out struct {
			JobID string `json:"jobId"`
		}
		if json.Unmarshal(body, &out) != nil || out.JobID == "" {
			g.errored.Add(1)
			return
		}
		g.accepted.Add(1)
		g.mu.Lock()
		g.sent[out.JobID] = t
		g.mu.Unlock()
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if resp.Header.Get("Retry-After") == "" {
			g.errored.Add(1) // shedding without Retry-After is a bug
			g.count(-resp.StatusCode)
			return
		}
		g.shed.Add(1)
		g.count(resp.StatusCode)
	default:
		g.errored.Add(1)
		g.count(resp.StatusCode)
	}
}

// count records an answer other than 202 by status (0: no answer;
// negative: shed without Retry-After).
func (g *generator) count(status int) {
	v, _ := g.status.LoadOrStore(status, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// statuses lists the answers other than 202 ("503×120 0×3").
func (g *generator) statuses() string {
	var s string
	g.status.Range(func(k, v any) bool {
		code := k.(int)
		name := fmt.Sprint(code)
		switch {
		case code == 0:
			name = "no answer"
		case code < 0:
			name = fmt.Sprintf("%d without Retry-After", -code)
		}
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s×%d", name, v.(*atomic.Int64).Load())
		return true
	})
	if s == "" {
		return "none"
	}
	return s
}

// snapshot copies the accepted jobs' send times.
func (g *generator) snapshot() map[string]time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]time.Time, len(g.sent))
	for k, v := range g.sent {
		out[k] = v
	}
	return out
}

// openFiles is how many descriptors this process (the bench and the
// stack it runs) has open, and its limit (-1 where /proc is missing).
func openFiles() (n int, limit string) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1, "?"
	}
	limit = "?"
	if b, err := os.ReadFile("/proc/self/limits"); err == nil {
		for _, l := range bytes.Split(b, []byte("\n")) {
			if bytes.HasPrefix(l, []byte("Max open files")) {
				f := bytes.Fields(l)
				if len(f) >= 5 {
					limit = string(f[3])
				}
			}
		}
	}
	return len(ents), limit
}

// fdWatch samples openFiles every 200 ms until stop is closed and
// returns the largest count seen.
func fdWatch(stop <-chan struct{}) <-chan int {
	out := make(chan int, 1)
	go func() {
		most := 0
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if n, _ := openFiles(); n > most {
				most = n
			}
			select {
			case <-stop:
				out <- most
				return
			case <-t.C:
			}
		}
	}()
	return out
}
