package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/pgserver"
)

// productionSettings are what the bench's private cluster runs with: as a
// small RDS instance (2 GB of memory) would, and never the shortcuts of a
// CI server. autovacuum, fsync, synchronous_commit and full_page_writes
// are Postgres's own defaults, set again in case a conf.d turned them off;
// shared_buffers is a quarter of that instance's memory (RDS's default
// formula); pg_stat_statements is preloaded as on RDS, so that the cost
// scenario can read the database's own time per statement.
var productionSettings = []setting{
	{"autovacuum", "on", false},
	{"fsync", "on", false},
	{"synchronous_commit", "on", false},
	{"full_page_writes", "on", false},
	{"shared_buffers", "512MB", true},
	{"effective_cache_size", "1536MB", false},
	{"max_connections", "200", true},
	{"max_wal_size", "2GB", false},
	{"track_io_timing", "on", false},
	{"shared_preload_libraries", "pg_stat_statements", true},
}

type setting struct {
	name, value string
	restart     bool // takes effect only at a restart
}

// shownSettings are printed in the bench's header, whatever server it
// measures.
var shownSettings = []string{"autovacuum", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "max_connections", "max_wal_size", "autovacuum_naptime", "shared_preload_libraries"}

// server is the Postgres the bench measures, and what it runs with.
type server struct {
	url      string
	private  *pgserver.Server // nil: an external server (-database-url)
	version  string
	settings map[string]string
}

// Stop stops a private cluster unless keep; an external server is left
// alone.
func (s *server) Stop(keep bool) {
	if s.private != nil && !keep {
		_ = s.private.Stop()
	}
}

// describe is the header line naming the server and its settings.
func (s *server) describe() string {
	where := "external server " + pgdb.Redact(s.url)
	if s.private != nil {
		where = fmt.Sprintf("private cluster under %s (port %d)", s.private.DataDir, s.private.Port)
	}
	var kv []string
	for _, n := range shownSettings {
		if v, ok := s.settings[n]; ok {
			if v == "" {
				v = "''"
			}
			kv = append(kv, n+"="+v)
		}
	}
	return fmt.Sprintf("Postgres %s, %s: %s", s.version, where, strings.Join(kv, " "))
}

// unlikeProduction names the settings that make the server measure
// something other than production would ("" if none).
func (s *server) unlikeProduction() string {
	var bad []string
	for _, n := range []string{"autovacuum", "fsync", "synchronous_commit", "full_page_writes"} {
		if v := s.settings[n]; v != "on" {
			bad = append(bad, n+"="+v)
		}
	}
	return strings.Join(bad, ", ")
}

// privateCluster starts (or finds running) the private cluster under dir
// on port, with productionSettings: a setting that needs a restart to
// take effect restarts it once.
func privateCluster(ctx context.Context, dir string, port int) (*server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "bench: private Postgres cluster under %s (port %d)\n", dir, port)
	srv, err := pgserver.Find(ctx, "", dir, os.Stderr, pgserver.WithPort(port))
	if err != nil {
		return nil, err
	}
	restart, err := applySettings(ctx, srv.URL)
	if err != nil {
		_ = srv.Stop()
		return nil, err
	}
	if restart {
		fmt.Fprintln(os.Stderr, "bench: restarting the private cluster for its settings (shared_buffers, max_connections, shared_preload_libraries)…")
		if err := srv.Stop(); err != nil {
			return nil, err
		}
		if srv, err = pgserver.Find(ctx, "", dir, os.Stderr, pgserver.WithPort(port)); err != nil {
			return nil, err
		}
	}
	s, err := inspect(ctx, srv.URL)
	if err != nil {
		_ = srv.Stop()
		return nil, err
	}
	s.private = srv
	if bad := s.unlikeProduction(); bad != "" {
		_ = srv.Stop()
		return nil, fmt.Errorf("the private cluster under %s still runs with %s after ALTER SYSTEM; see %s", dir, bad, filepath.Join(dir, "postgres.log"))
	}
	return s, nil
}

// applySettings sets productionSettings with ALTER SYSTEM and reloads;
// it reports whether a restart is needed for some to take effect.
func applySettings(ctx context.Context, url string) (restart bool, err error) {
	pool, err := pgdb.Open(ctx, url, 1)
	if err != nil {
		return false, err
	}
	defer pool.Close()
	var haveStatements bool
	if err := pool.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'pg_stat_statements'`).Scan(&haveStatements); err != nil {
		return false, err
	}
	for _, s := range productionSettings {
		if s.name == "shared_preload_libraries" && !haveStatements {
			continue
		}
		var cur string
		if err := pool.QueryRow(ctx, `SELECT current_setting($1)`, s.name).Scan(&cur); err != nil {
			return false, err
		}
		if same(cur, s.value) {
			continue
		}
		if _, err := pool.Exec(ctx, fmt.Sprintf(`ALTER SYSTEM SET %s = '%s'`, s.name, s.value)); err != nil {
			return false, fmt.Errorf("ALTER SYSTEM SET %s: %w", s.name, err)
		}
		if s.restart {
			restart = true
		}
	}
	if _, err := pool.Exec(ctx, `SELECT pg_reload_conf()`); err != nil {
		return false, err
	}
	return restart, nil
}

// same compares a current_setting value with the wanted one ("512MB"
// reads back as "512MB", "2GB" as "2GB": Postgres keeps the unit given).
func same(cur, want string) bool { return strings.EqualFold(strings.TrimSpace(cur), want) }

// inspect reads the server's version and shownSettings.
func inspect(ctx context.Context, url string) (*server, error) {
	pool, err := pgdb.Open(ctx, url, 1)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	s := &server{url: url, settings: map[string]string{}}
	if err := pool.QueryRow(ctx, `SHOW server_version`).Scan(&s.version); err != nil {
		return nil, err
	}
	s.version, _, _ = strings.Cut(s.version, " ")
	for _, n := range shownSettings {
		var v string
		if err := pool.QueryRow(ctx, `SELECT current_setting($1)`, n).Scan(&v); err != nil {
			return nil, err
		}
		s.settings[n] = v
	}
	return s, nil
}

// openServer is the server the bench measures: the private cluster, or
// the external one of -database-url, which is refused if it is unlike
// production (autovacuum off, say) unless -allow-unlike-production.
func openServer(ctx context.Context, o options) (*server, error) {
	if o.databaseURL == "" {
		return privateCluster(ctx, o.dataDir+"-pg", o.pgPort)
	}
	s, err := inspect(ctx, o.databaseURL)
	if err != nil {
		return nil, err
	}
	if bad := s.unlikeProduction(); bad != "" {
		if !o.allowUnlike {
			return nil, fmt.Errorf("the server at %s runs with %s; production servers (RDS included) never do, and a run longer than a few seconds would measure dead rows piling up, not JobWeaver. Leave out -database-url to measure on the bench's private cluster, or pass -allow-unlike-production to measure it anyway", pgdb.Redact(o.databaseURL), bad)
		}
		fmt.Fprintf(os.Stderr, "bench: WARNING: the server runs with %s, unlike any production server; the figures below are not comparable to production\n", bad)
	}
	return s, nil
}

// header is what the bench prints above its table: the commit, the
// machine and its load, and the server with its settings.
func header(s *server) []string {
	commit := "unknown commit"
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
		if out, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
			commit += " (with uncommitted changes)"
		}
	}
	lines := []string{
		fmt.Sprintf("# JobWeaver bench at %s, %s, %s/%s, %d CPUs, load average %s", commit, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadAvg()),
		"# " + s.describe(),
	}
	if bad := s.unlikeProduction(); bad != "" {
		lines = append(lines, "# WARNING: "+bad+": unlike production; these figures do not stand for it")
	}
	return lines
}

// loadAvg is the machine's 1, 5 and 15 minute load averages ("?" where
// /proc is missing).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// load1 is the 1 minute load average, for the table's load column.
func load1() string {
	f := strings.Fields(loadAvg())
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// statementsOn reports whether pg_stat_statements can be read in the
// database of pool (creating the extension if the library is loaded).
func statementsOn(ctx context.Context, pool *pgxpool.Pool) bool {
	_, err := pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`)
	if err != nil {
		return false
	}
	var n int
	return pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_statements LIMIT 1`).Scan(&n) == nil
}
