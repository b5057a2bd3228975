package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/pgdb"
)

// deadRows is one sample of the stack's tables in pg_stat_user_tables:
// per database, the dead rows summed over its tables, the table with the
// most, and the autovacuum runs so far.
type deadRows struct {
	at   time.Time
	dbs  []string
	dead map[string]int64 // database -> n_dead_tup summed
	top  map[string]string
	vac  map[string]int64 // database -> autovacuum_count summed
}

func (d deadRows) total() (dead, vac int64) {
	for _, db := range d.dbs {
		dead += d.dead[db]
		vac += d.vac[db]
	}
	return
}

func (d deadRows) String() string {
	var parts []string
	for _, db := range d.dbs {
		parts = append(parts, fmt.Sprintf("%s %d (most: %s)", db, d.dead[db], d.top[db]))
	}
	return strings.Join(parts, ", ")
}

// statPools opens a small pool on each of the stack's databases but dlq.
func (b *bench) statPools(ctx context.Context) (map[string]*pgxpool.Pool, func(), error) {
	pools := map[string]*pgxpool.Pool{}
	closeAll := func() {
		for _, p := range pools {
			p.Close()
		}
	}
	for _, svc := range []string{"api", "scheduler", "worker"} {
		u, err := pgdb.WithDatabase(b.st.DatabaseURL, b.prefix+"_"+svc)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		p, err := pgdb.Open(ctx, u, 1)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		pools[svc] = p
	}
	return pools, closeAll, nil
}

func sampleDeadRows(ctx context.Context, pools map[string]*pgxpool.Pool) (deadRows, error) {
	d := deadRows{at: time.Now(), dead: map[string]int64{}, top: map[string]string{}, vac: map[string]int64{}}
	for db := range pools {
		d.dbs = append(d.dbs, db)
	}
	sort.Strings(d.dbs)
	for _, db := range d.dbs {
		rows, err := pools[db].Query(ctx, `SELECT relname, n_dead_tup, autovacuum_count FROM pg_stat_user_tables ORDER BY n_dead_tup DESC`)
		if err != nil {
			return d, err
		}
		first := true
		for rows.Next() {
			var name string
			var dead, vac int64
			if err := rows.Scan(&name, &dead, &vac); err != nil {
				rows.Close()
				return d, err
			}
			if first {
				d.top[db] = fmt.Sprintf("%s %d", name, dead)
				first = false
			}
			d.dead[db] += dead
			d.vac[db] += vac
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return d, err
		}
	}
	return d, nil
}

// soak offers o.soakRate one-job POSTs a second for o.soakFor and reports,
// per minute, completions against offers, submit→completed p50/p99, the
// dead rows in the stack's tables and the autovacuum runs so far; then the
// last minute's p99 over the first's (issue #14: ≤ 1.3×).
func (b *bench) soak(ctx context.Context) ([]row, error) {
	fmt.Fprintf(os.Stderr, "bench: soak: %d jobs/s, one per POST, for %s…\n", b.o.soakRate, b.o.soakFor)
	pools, closePools, err := b.statPools(ctx)
	if err != nil {
		return nil, err
	}
	defer closePools()
	g := newGenerator(b.st.APIURL, logJob, b.o.maxOpen)
	start := time.Now()
	samples := []deadRows{}
	s0, err := sampleDeadRows(ctx, pools)
	if err != nil {
		return nil, err
	}
	samples = append(samples, s0)
	nextSample := start.Add(time.Minute)
	stop := make(chan struct{})
	sampled := make(chan []deadRows, 1)
	go func() {
		var got []deadRows
		defer func() { sampled <- got }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Until(nextSample)):
			}
			s, err := sampleDeadRows(ctx, pools)
			if err == nil {
				got = append(got, s)
				dead, vac := s.total()
				fmt.Fprintf(os.Stderr, "bench: soak: minute %d: %d dead rows (%s), %d autovacuum runs so far\n", len(got), dead, s, vac)
			}
			nextSample = nextSample.Add(time.Minute)
		}
	}()
	g.run(ctx, b.o.soakRate, b.o.soakFor, func(el time.Duration) {
		if int(el.Seconds())%10 == 0 {
			fmt.Fprintf(os.Stderr, "  %s: offered %d, accepted %d, shed %d, errors %d\n", el.Round(time.Second), g.offered.Load(), g.accepted.Load(), g.shed.Load(), g.errored.Load())
		}
	})
	close(stop)
	samples = append(samples, <-sampled...)
	sent := g.snapshot()
	if _, err := b.waitTerminal(ctx, len(sent), 15*time.Minute); err != nil {
		return nil, err
	}
	done, err := b.timesChunked(ctx, b.scheduler, `SELECT id::text, finished_at FROM jobs WHERE id = ANY($1::uuid[])`, keys(sent))
	if err != nil {
		return nil, err
	}
	last, err := sampleDeadRows(ctx, pools)
	if err != nil {
		return nil, err
	}

	minutes := int((b.o.soakFor + time.Minute - 1) / time.Minute)
	type minute struct {
		offered, completed int // offered: accepted, by send time
		lat                []time.Duration
	}
	mins := make([]minute, minutes+1) // the last holds completions after the run
	for id, t0 := range sent {
		k := min(int(t0.Sub(start)/time.Minute), minutes-1)
		mins[k].offered++
		if t1, ok := done[id]; ok {
			mins[k].lat = append(mins[k].lat, t1.Sub(t0))
			mins[min(int(t1.Sub(start)/time.Minute), minutes)].completed++
		}
	}
	var rows []row
	for k := 0; k < minutes; k++ {
		m := mins[k]
		sort.Slice(m.lat, func(i, j int) bool { return m.lat[i] < m.lat[j] })
		secs := min(time.Minute, b.o.soakFor-time.Duration(k)*time.Minute).Seconds()
		rows = append(rows,
			row{"soak", fmt.Sprintf("minute %d: completions/s (offered %d/s, accepted %.0f/s)", k+1, b.o.soakRate, float64(m.offered)/secs), fmt.Sprintf("%.0f jobs/s", float64(m.completed)/secs), "", "", ""},
			row{"soak", fmt.Sprintf("minute %d: submit→completed p50", k+1), ms(pct(m.lat, 50)), "", "", ""},
			row{"soak", fmt.Sprintf("minute %d: submit→completed p99", k+1), ms(pct(m.lat, 99)), "", "", ""},
		)
		if k+1 < len(samples) {
			dead, vac := samples[k+1].total()
			_, vac0 := samples[0].total()
			rows = append(rows, row{"soak", fmt.Sprintf("minute %d: dead rows (autovacuum runs so far)", k+1), fmt.Sprintf("%d (%d)", dead, vac-vac0), "", "", ""})
		}
	}
	dead, vac := last.total()
	_, vac0 := samples[0].total()
	rows = append(rows, row{"soak", "after the drain: dead rows (autovacuum runs)", fmt.Sprintf("%d (%d)", dead, vac-vac0), "", "", ""})
	rows = append(rows, row{"soak", "after the drain: dead rows by database", last.String(), "", "", ""})
	if mins[minutes].completed > 0 {
		rows = append(rows, row{"soak", "completed after the offers stopped", fmt.Sprintf("%d jobs", mins[minutes].completed), "", "", ""})
	}
	first, lastM := mins[0].lat, mins[minutes-1].lat
	if minutes > 1 && len(first) > 0 && len(lastM) > 0 && pct(first, 99) > 0 {
		r := float64(pct(lastM, 99)) / float64(pct(first, 99))
		rows = append(rows, row{"soak", "last minute's p99 / first minute's p99", fmt.Sprintf("%.2f×", r), "≤ 1.30×", verdict(r <= 1.3), ""})
	}
	offered, accepted := g.offered.Load(), g.accepted.Load()
	rows = append(rows, row{"soak", "accepted / offered (shed, errors, not sent at the generator's bound)",
		fmt.Sprintf("%d / %d (%d, %d, %d)", accepted, offered, g.shed.Load(), g.errored.Load(), g.skipped.Load()), "", "", ""})
	completed := len(done)
	rows = append(rows, row{"soak", "accepted jobs completed", fmt.Sprintf("%d of %d", completed, len(sent)), "all", verdict(completed == len(sent)), ""})
	return rows, nil
}

// timesChunked is times for many IDs, 20,000 at a time.
func (b *bench) timesChunked(ctx context.Context, pool *pgxpool.Pool, sql string, ids []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	for len(ids) > 0 {
		n := min(len(ids), 20000)
		m, err := b.times(ctx, pool, sql, ids[:n])
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] = v
		}
		ids = ids[n:]
	}
	return out, nil
}
