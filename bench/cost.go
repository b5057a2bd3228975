package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/pgdb"
)

// Prices of docs/cost.md (us-east-1, arm64 Lambda; an m7g.large's 2 vCPUs
// at $0.168 an hour, single-AZ).
const (
	pricePerGBSecond   = 0.0000133334
	pricePerInvocation = 0.20 / 1e6
	pricePerDBCPUSec   = 0.168 / 2 / 3600
)

// benchServer is the server the bench measures (the cost scenario reads
// its processes' CPU time).
var benchServer *server

// lambdaMemory is each function's memory in cdk.json's prod stage, in
// MiB (the defaults if cdk.json cannot be read).
func lambdaMemory() (map[string]float64, string) {
	mem := map[string]float64{invoke.API: 1024, invoke.Scheduler: 1024, invoke.Worker: 1769, invoke.DLQ: 256}
	b, err := os.ReadFile("cdk.json")
	if err != nil {
		return mem, "defaults (cdk.json not found)"
	}
	var c struct {
		Context struct {
			Stages map[string]struct {
				Functions map[string]struct {
					MemoryMiB float64 `json:"memoryMiB"`
				} `json:"functions"`
			} `json:"stages"`
		} `json:"context"`
	}
	if json.Unmarshal(b, &c) != nil {
		return mem, "defaults (cdk.json unreadable)"
	}
	for fn, f := range c.Context.Stages["prod"].Functions {
		if _, ok := mem[fn]; ok && f.MemoryMiB > 0 {
			mem[fn] = f.MemoryMiB
		}
	}
	return mem, "cdk.json prod"
}

// dbCPU is the Postgres cluster's CPU time so far: the postmaster's own
// and its reaped children's, plus each live child's (from /proc). ok is
// false for an external server or without /proc.
func dbCPU() (time.Duration, bool) {
	if benchServer == nil || benchServer.private == nil {
		return 0, false
	}
	b, err := os.ReadFile(filepath.Join(benchServer.private.DataDir, "pgdata", "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, false
	}
	const hz = 100 // USER_HZ on Linux
	ticks := int64(0)
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	found := false
	for _, p := range procs {
		st, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(st)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		// f[0] state, f[1] ppid, … f[11] utime, f[12] stime, f[13] cutime, f[14] cstime
		if len(f) < 15 {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		ppid, _ := strconv.Atoi(f[1])
		n := func(k int) int64 { v, _ := strconv.ParseInt(f[k], 10, 64); return v }
		switch {
		case pid == pm:
			ticks += n(11) + n(12) + n(13) + n(14)
			found = true
		case ppid == pm:
			ticks += n(11) + n(12)
		}
	}
	return time.Duration(ticks) * time.Second / hz, found
}

// selfCPU is this process's CPU time so far (user and system): the four
// functions, the broker, the HTTP fronts and the load generator.
func selfCPU() (time.Duration, bool) {
	st, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	s := string(st)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * time.Second / 100, true
}

// statementTime is pg_stat_statements' total execution time so far, over
// every database of the server (0, false without the extension).
func (b *bench) statementTime(ctx context.Context) (time.Duration, bool) {
	pool, err := pgdb.Open(ctx, b.st.DatabaseURL, 1)
	if err != nil {
		return 0, false
	}
	defer pool.Close()
	if !statementsOn(ctx, pool) {
		return 0, false
	}
	var msTotal float64
	if err := pool.QueryRow(ctx, `SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements`).Scan(&msTotal); err != nil {
		return 0, false
	}
	return time.Duration(msTotal * float64(time.Millisecond)), true
}

// cost measures what a million jobs cost: each function's invocations
// and billed time through the stack's in-process invoker, as Lambda
// GB-seconds at cdk.json's prod memory sizes, and the database's CPU
// time (its processes', and pg_stat_statements' execution time), for a
// burst of one-job POSTs and one of batched POSTs. The scheduler's
// ticks are in its figures: in AWS the tick is a fixed cost per minute
// (docs/cost.md, Idle), here it runs every TICK_INTERVAL.
func (b *bench) cost(ctx context.Context) ([]row, error) {
	mem, memFrom := lambdaMemory()
	var rows []row
	for _, per := range []int{1, b.o.batch} {
		before := b.st.Invoker.Stats()
		cpu0, cpuOK := dbCPU()
		self0, selfOK := selfCPU()
		stmt0, stmtOK := b.statementTime(ctx)
		n, _, rate, err := b.burstRate(ctx, b.o.jobs, per, "LOG-only (cost)")
		if err != nil {
			return nil, err
		}
		after := b.st.Invoker.Stats()
		cpu1, _ := dbCPU()
		self1, _ := selfCPU()
		stmt1, _ := b.statementTime(ctx)
		how := "one job per POST"
		if per > 1 {
			how = fmt.Sprintf("%d jobs per POST", per)
		}
		perM := 1e6 / float64(n)
		var gbs, usd, inv float64
		var parts []string
		for _, fn := range []string{invoke.API, invoke.Scheduler, invoke.Worker, invoke.DLQ} {
			d := after[fn].Invocations - before[fn].Invocations
			billed := (after[fn].Billed - before[fn].Billed).Seconds()
			g := billed * mem[fn] / 1024 * perM
			gbs += g
			inv += float64(d) * perM
			usd += g*pricePerGBSecond + float64(d)*perM*pricePerInvocation
			if d > 0 {
				parts = append(parts, fmt.Sprintf("%s %.0f GB-s: %.0f calls × %.1f ms × %.0f MB", fn, g, float64(d)*perM, 1000*billed/float64(d), mem[fn]))
			}
		}
		rows = append(rows,
			row{"cost", fmt.Sprintf("%s: end to end (%d jobs)", how, n), fmt.Sprintf("%.0f jobs/s", rate), "", "", ""},
			row{"cost", fmt.Sprintf("%s: Lambda GB-s per million jobs (memory: %s)", how, memFrom), fmt.Sprintf("%.0f GB-s, %.0f invocations ($%.2f)", gbs, inv, usd), "", "", ""},
			row{"cost", fmt.Sprintf("%s: by function", how), strings.Join(parts, "; "), "", "", ""},
		)
		if cpuOK {
			c := (cpu1 - cpu0).Seconds() * perM
			rows = append(rows, row{"cost", fmt.Sprintf("%s: database CPU per million jobs (Postgres processes)", how),
				fmt.Sprintf("%.0f CPU-s ($%.2f at an m7g.large's vCPU-second)", c, c*pricePerDBCPUSec), "", "", ""})
		}
		if selfOK {
			c := (self1 - self0).Seconds() * perM
			rows = append(rows, row{"cost", fmt.Sprintf("%s: CPU of the stack's process per million jobs (functions, broker, fronts and load generator)", how),
				fmt.Sprintf("%.0f CPU-s", c), "", "", ""})
		}
		if stmtOK {
			rows = append(rows, row{"cost", fmt.Sprintf("%s: statement execution time per million jobs (pg_stat_statements)", how),
				fmt.Sprintf("%.0f s", (stmt1-stmt0).Seconds()*perM), "", "", ""})
		}
	}
	return rows, nil
}
