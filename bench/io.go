package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"time"

	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/pgdb"
)

// The io scenario's jobs: one 100 ms step each, and the no-op they are
// compared with.
const (
	ioSleepJob   = `{"jobType":"SIMULATION","payload":{"steps":[{"action":"SLEEP","durationMs":100}]},"maxRetryCount":0}`
	ioLatencyJob = `{"jobType":"SIMULATION","payload":{"steps":[{"action":"HTTP_CALL","latencyMs":100}]},"maxRetryCount":0}`
	ioHTTPJob    = `{"jobType":"SIMULATION","payload":{"steps":[{"action":"HTTP_CALL","url":"%s"}]},"maxRetryCount":0}`
)

// ioBench is the io scenario: o.ioJobs jobs of one 100 ms SLEEP, of one
// simulated 100 ms HTTP_CALL (latencyMs), and of one HTTP_CALL to a local
// target that answers after 100 ms, each burst
// on a fresh stack, against the same number of no-op (LOG) jobs, for
// o.ioRounds rounds alternating no-op, SLEEP, HTTP_CALLs; the table shows
// medians, and each I/O rate's ratio to the no-op's (floor ≥ 0.9×).
//
// It runs on the bench's server, like every scenario: its private
// cluster with production-like settings (cluster.go), unless
// -database-url names another.
func ioBench(ctx context.Context, cfg devstack.Config, o options) ([]row, error) {
	pool, err := pgdb.Open(ctx, cfg.DatabaseURL, 1)
	if err != nil {
		return nil, err
	}
	var autovacuum string
	err = pool.QueryRow(ctx, `SHOW autovacuum`).Scan(&autovacuum)
	pool.Close()
	if err != nil {
		return nil, err
	}

	// The HTTP_CALL target: 100 ms, then 200. The worker may reach it
	// through WORKER_HTTP_ALLOWLIST.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})}
	go func() { _ = target.Serve(ln) }()
	defer func() { _ = target.Close() }()
	cfg.Worker.HTTPAllowlist = append(cfg.Worker.HTTPAllowlist, "127.0.0.1/32")
	httpJob := fmt.Sprintf(ioHTTPJob, "http://"+ln.Addr().String()+"/")

	kinds := []struct{ name, job string }{
		{"no-op (LOG)", string(logJob)},
		{"SLEEP 100 ms", ioSleepJob},
		{"HTTP_CALL latencyMs 100", ioLatencyJob},
		{"HTTP_CALL 100 ms", httpJob},
	}
	rates := make([][]float64, len(kinds))
	for round := 1; round <= o.ioRounds; round++ {
		for k, kind := range kinds {
			fmt.Fprintf(os.Stderr, "bench: io: round %d of %d, %s\n", round, o.ioRounds, kind.name)
			var rate float64
			_, err := withStack(ctx, cfg, o, func(b *bench, ctx context.Context) ([]row, error) {
				b.job = []byte(kind.job)
				n, _, r, err := b.burstRate(ctx, o.ioJobs, o.batch, kind.name)
				if err != nil {
					return nil, err
				}
				var completed int
				if err := b.scheduler.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE status = 'COMPLETED'`).Scan(&completed); err != nil {
					return nil, err
				}
				if completed != n {
					return nil, fmt.Errorf("%s: %d of %d jobs completed", kind.name, completed, n)
				}
				rate = r
				return nil, nil
			})
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(os.Stderr, "bench: io: %s: %.0f jobs/s\n", kind.name, rate)
			rates[k] = append(rates[k], rate)
		}
	}
	noop := median(rates[0])
	rows := []row{{"io", fmt.Sprintf("end-to-end, %d %s jobs, median of %d (autovacuum %s)", o.ioJobs, kinds[0].name, o.ioRounds, autovacuum),
		fmt.Sprintf("%.0f jobs/s", noop), "", "", ""}}
	for k, kind := range kinds[1:] {
		r := median(rates[k+1])
		rows = append(rows, row{"io", fmt.Sprintf("end-to-end, %d jobs of one %s, median of %d", o.ioJobs, kind.name, o.ioRounds),
			fmt.Sprintf("%.0f jobs/s (%.2f× no-op)", r, r/noop), "≥ 0.9× no-op", verdict(r >= 0.9*noop), ""})
	}
	return rows, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
