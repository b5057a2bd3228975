// Command river measures River (github.com/riverqueue/river), a Go job
// queue on one Postgres database, on the same machine and server as
// ../ (make bench), so that JobWeaver's figures have a reference measured
// in the same minutes rather than quoted from another machine.
//
// It creates a fresh database on the server it is given, migrates River
// into it, runs one River client with a no-op worker and measures, from
// River's own timestamps (river_job.created_at and finalized_at):
//
//   - throughput: -jobs jobs inserted in batches of -batch by -clients
//     goroutines (as the bench's burst does with POST /api/jobs/batch);
//     jobs/s from the first insert to the last completion;
//   - latency: -rate single-job inserts per second, open loop, for
//     -duration (as the bench's latency run does with one job per POST);
//     p50 and p99 of created → finalized.
//
// Run it against the bench's private cluster (autovacuum and fsync on):
//
//	cd bench/river && go run . -database-url 'postgres://postgres@127.0.0.1:55441/postgres?sslmode=disable'
//
// Its queue runs with MaxWorkers 10,000 (-workers): with River's default
// of 100, a fetch every 100 ms caps it near 1,000 jobs/s, which measures
// the setting rather than River.
//
// It lives in a module of its own, so that River is not a dependency of
// JobWeaver.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

type noopArgs struct{}

func (noopArgs) Kind() string { return "noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

type config struct {
	databaseURL string
	scenarios   string
	jobs        int
	batch       int
	clients     int
	rate        int
	duration    time.Duration
	workers     int
	keep        bool
}

func main() {
	var c config
	flag.StringVar(&c.databaseURL, "database-url", "", "Postgres server to measure on (required); a fresh database river_bench_<n> is created there and dropped after (see -keep)")
	flag.StringVar(&c.scenarios, "scenarios", "throughput,latency", "which runs, comma-separated: throughput, latency")
	flag.IntVar(&c.jobs, "jobs", 20000, "throughput: jobs inserted")
	flag.IntVar(&c.batch, "batch", 100, "throughput: jobs per InsertMany")
	flag.IntVar(&c.clients, "clients", 64, "throughput: concurrent inserters")
	flag.IntVar(&c.rate, "rate", 2000, "latency: single-job inserts per second, open loop")
	flag.DurationVar(&c.duration, "duration", 20*time.Second, "latency: how long to insert")
	flag.IntVar(&c.workers, "workers", 10000, "River's MaxWorkers for the default queue (with River's default of 100, one fetch per 100 ms caps it near 1,000 jobs/s)")
	flag.BoolVar(&c.keep, "keep", false, "keep each run's database")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run . -database-url URL [flags]\n\nMeasures River on the given server, for comparison with make bench.\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if c.databaseURL == "" {
		fmt.Fprintln(os.Stderr, "river: -database-url is required: the bench's private cluster, e.g. postgres://postgres@127.0.0.1:55441/postgres?sslmode=disable (go run ../ -keep leaves it running)")
		os.Exit(2)
	}
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "river:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	fmt.Printf("%-10s  %-45s  %s\n", "scenario", "metric", "measured")
	for _, s := range strings.Split(c.scenarios, ",") {
		var err error
		switch strings.TrimSpace(s) {
		case "throughput":
			err = withDatabase(ctx, c, throughput)
		case "latency":
			err = withDatabase(ctx, c, latency)
		default:
			err = fmt.Errorf("unknown scenario %q: want throughput or latency", s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// withDatabase runs f on a fresh, migrated database with a started River
// client, then stops the client and drops the database.
func withDatabase(ctx context.Context, c config, f func(context.Context, config, *pgxpool.Pool, *river.Client[pgx.Tx]) error) error {
	admin, err := pgx.Connect(ctx, c.databaseURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("river_bench_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return err
	}
	if !c.keep {
		defer func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)") }()
	} else {
		fmt.Fprintln(os.Stderr, "river: keeping database", name)
	}
	u, err := url.Parse(c.databaseURL)
	if err != nil {
		return err
	}
	u.Path = "/" + name
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		return err
	}
	defer pool.Close()
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: c.workers}},
		Workers: workers,
	})
	if err != nil {
		return err
	}
	if err := client.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(sctx) // best effort: the database is dropped next
	}()
	return f(ctx, c, pool, client)
}

func throughput(ctx context.Context, c config, pool *pgxpool.Pool, client *river.Client[pgx.Tx]) error {
	fmt.Fprintf(os.Stderr, "river: %d no-op jobs, %d per InsertMany, %d clients…\n", c.jobs, c.batch, c.clients)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, c.clients)
	for range c.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := int(next.Add(int64(c.batch))) - c.batch
				if from >= c.jobs {
					return
				}
				n := min(c.batch, c.jobs-from)
				params := make([]river.InsertManyParams, n)
				for i := range params {
					params[i] = river.InsertManyParams{Args: noopArgs{}}
				}
				if _, err := client.InsertMany(ctx, params); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if err := waitCompleted(ctx, pool, c.jobs); err != nil {
		return err
	}
	var secs float64
	if err := pool.QueryRow(ctx, `SELECT extract(epoch FROM max(finalized_at) - min(created_at)) FROM river_job`).Scan(&secs); err != nil {
		return err
	}
	fmt.Printf("%-10s  %-45s  %.0f jobs/s\n", "throughput", fmt.Sprintf("end-to-end, %d no-op jobs, batch of %d", c.jobs, c.batch), float64(c.jobs)/secs)
	return nil
}

func latency(ctx context.Context, c config, pool *pgxpool.Pool, client *river.Client[pgx.Tx]) error {
	total := int(float64(c.rate) * c.duration.Seconds())
	fmt.Fprintf(os.Stderr, "river: %d single-job inserts/s for %s…\n", c.rate, c.duration)
	sem := make(chan struct{}, 1024)
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := time.Now()
	for i := range total {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(c.rate))))
		select {
		case sem <- struct{}{}:
		default:
			failed.Add(1) // as the bench: a send that finds no slot is not made
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := client.Insert(ctx, noopArgs{}, nil); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d inserts failed or were not sent", n, total)
	}
	if err := waitCompleted(ctx, pool, total); err != nil {
		return err
	}
	var p50, p99 float64
	if err := pool.QueryRow(ctx, `
		SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)
		  FROM (SELECT extract(epoch FROM finalized_at - created_at) * 1000 AS ms FROM river_job) l`).Scan(&p50, &p99); err != nil {
		return err
	}
	fmt.Printf("%-10s  %-45s  %.1f ms\n", "latency", fmt.Sprintf("created→finalized p50 @ %d/s", c.rate), p50)
	fmt.Printf("%-10s  %-45s  %.1f ms\n", "latency", fmt.Sprintf("created→finalized p99 @ %d/s", c.rate), p99)
	return nil
}

// waitCompleted waits until n jobs are completed, polling every 100 ms.
func waitCompleted(ctx context.Context, pool *pgxpool.Pool, n int) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var done int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state = 'completed'`).Scan(&done); err != nil {
			return err
		}
		if done >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("jobs still open after 5 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
