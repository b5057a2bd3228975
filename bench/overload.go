package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jobweaver/jobweaver/shared/devstack"
)

// overloadBench offers twice what the stack takes (o.overloadRate, or
// twice the single-POST submit rate of a short calibration burst) for
// o.overloadFor, from a generator that keeps at most o.maxOpen
// requests open. It reports offered, accepted, shed (429/503 with
// Retry-After) and errors, the most descriptors the process held, and
// then checks that every accepted job completes.
func overloadBench(ctx context.Context, cfg devstack.Config, o options) ([]row, error) {
	return withStack(ctx, cfg, o, func(b *bench, ctx context.Context) ([]row, error) {
		rate := o.overloadRate
		var rows []row
		if rate == 0 {
			_, sub, e2e, err := b.burstRate(ctx, 5000, 1, "LOG-only (calibration)")
			if err != nil {
				return nil, err
			}
			rate = int(2 * sub)
			rows = append(rows, row{"overload", "calibration: single-POST submit rate (end to end)", fmt.Sprintf("%.0f jobs/s (%.0f)", sub, e2e), "", "", ""})
		}
		fmt.Fprintf(os.Stderr, "bench: overload: %d jobs/s offered for %s, at most %d requests open…\n", rate, o.overloadFor, o.maxOpen)
		base, err := b.terminalCount(ctx)
		if err != nil {
			return nil, err
		}
		g := newGenerator(b.st.APIURL, logJob, o.maxOpen)
		stop := make(chan struct{})
		most := fdWatch(stop)
		start := time.Now()
		g.run(ctx, rate, o.overloadFor, func(el time.Duration) {
			if int(el.Seconds())%5 == 0 {
				n, _ := openFiles()
				fmt.Fprintf(os.Stderr, "  %s: offered %d, accepted %d, shed %d, errors %d, not sent %d; %d descriptors open\n",
					el.Round(time.Second), g.offered.Load(), g.accepted.Load(), g.shed.Load(), g.errored.Load(), g.skipped.Load(), n)
			}
		})
		secs := time.Since(start).Seconds()
		close(stop)
		fds := <-most
		_, limit := openFiles()
		sent := g.snapshot()
		fmt.Fprintf(os.Stderr, "bench: overload: waiting for the %d accepted jobs…\n", len(sent))
		drainStart := time.Now()
		if _, err := b.waitTerminal(ctx, base+len(sent), 20*time.Minute); err != nil {
			return nil, err
		}
		drained := time.Since(drainStart)
		done, err := b.timesChunked(ctx, b.scheduler, `SELECT id::text, finished_at FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'COMPLETED'`, keys(sent))
		if err != nil {
			return nil, err
		}
		lat := diffs(sent, done)
		offered, accepted, shed, errored, skipped := g.offered.Load(), g.accepted.Load(), g.shed.Load(), g.errored.Load(), g.skipped.Load()
		pctOf := func(n int64) float64 { return 100 * float64(n) / float64(max(offered, 1)) }
		rows = append(rows,
			row{"overload", fmt.Sprintf("offered, one job per POST, %s", o.overloadFor), fmt.Sprintf("%.0f jobs/s (%d)", float64(offered)/secs, offered), "", "", ""},
			row{"overload", "accepted (202)", fmt.Sprintf("%.0f jobs/s (%d, %.1f %%)", float64(accepted)/secs, accepted, pctOf(accepted)), "", "", ""},
			row{"overload", "shed: 429/503 with Retry-After", fmt.Sprintf("%d (%.1f %%)", shed, pctOf(shed)), "", "", ""},
			row{"overload", "errors (other answers, none, or shed without Retry-After)", fmt.Sprintf("%d (%s)", errored, g.statuses()), "0", verdict(errored == 0), ""},
			row{"overload", fmt.Sprintf("not sent: all %d of the generator's requests open", o.maxOpen), fmt.Sprintf("%d (%.1f %%)", skipped, pctOf(skipped)), "", "", ""},
			row{"overload", "most descriptors open in the process (bench + stack)", fmt.Sprintf("%d of %s", fds, limit), "", "", ""},
			row{"overload", "accepted jobs completed", fmt.Sprintf("%d of %d, %s after the offers stopped", len(done), len(sent), drained.Round(time.Second)), "all", verdict(len(done) == len(sent)), ""},
			row{"overload", "accepted jobs: submit→completed p50", ms(pct(lat, 50)), "", "", ""},
			row{"overload", "accepted jobs: submit→completed p99", ms(pct(lat, 99)), "", "", ""},
		)
		return rows, nil
	})
}
