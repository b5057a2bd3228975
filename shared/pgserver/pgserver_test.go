package pgserver

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// unreachable is a URL nothing answers at, which forces a private cluster.
const unreachable = "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable"

func query(t *testing.T, url, sql string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func execSQL(t *testing.T, url, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestPrivateClusterLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	var log bytes.Buffer

	// First start: initdb, a port, a running server.
	srv, err := Find(ctx, unreachable, dir, &log)
	if err != nil {
		t.Fatalf("Find: %v\n%s", err, log.String())
	}
	t.Cleanup(func() { _ = srv.Stop() })
	if !srv.Private || !srv.Started || srv.Port == 0 {
		t.Fatalf("want a private cluster we started, got %+v", srv)
	}
	if !strings.Contains(log.String(), "starting private Postgres under "+filepath.Join(dir, "pgdata")) ||
		!strings.Contains(log.String(), "(port "+strconv.Itoa(srv.Port)+")") {
		t.Errorf("progress log lacks the start line:\n%s", log.String())
	}
	if b, err := os.ReadFile(filepath.Join(dir, "port")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(srv.Port) {
		t.Errorf("port file = %q, %v; want %d", b, err, srv.Port)
	}
	execSQL(t, srv.URL, `CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)`)
	if enc := query(t, srv.URL, `SELECT CASE WHEN pg_encoding_to_char(encoding) = 'UTF8' THEN 1 ELSE 0 END FROM pg_database WHERE datname = 'postgres'`); enc != 1 {
		t.Errorf("cluster encoding is not UTF8")
	}
	if on := query(t, srv.URL, `SELECT CASE WHEN current_setting('fsync') = 'on' THEN 1 ELSE 0 END`); on != 1 {
		t.Errorf("fsync is off")
	}

	// Find while it runs: reused, not started again.
	again, err := Find(ctx, unreachable, dir, nil)
	if err != nil {
		t.Fatalf("Find while running: %v", err)
	}
	if again.Started || again.URL != srv.URL {
		t.Errorf("Find while running = %+v; want the running server %s, not started", again, srv.URL)
	}

	// Clean stop, then start again: same port, data kept.
	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := ping(ctx, srv.URL, 3*time.Second); err == nil {
		t.Fatalf("server still answers after Stop")
	}
	srv2, err := Find(ctx, unreachable, dir, nil)
	if err != nil {
		t.Fatalf("Find after Stop: %v", err)
	}
	t.Cleanup(func() { _ = srv2.Stop() })
	if !srv2.Started || srv2.Port != srv.Port {
		t.Errorf("restart = %+v; want started on port %d", srv2, srv.Port)
	}
	if n := query(t, srv2.URL, `SELECT n FROM kept`); n != 42 {
		t.Errorf("kept = %d after restart", n)
	}

	// Hard kill of the postmaster: the next Find recovers it.
	pidFile, err := os.ReadFile(filepath.Join(dir, "pgdata", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(pidFile), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		t.Fatalf("postmaster.pid: %q", pidFile)
	}
	execSQL(t, srv2.URL, `INSERT INTO kept VALUES (43)`)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for syscall.Kill(pid, 0) == nil { // wait until it is gone (it is our child's child: reaped by init)
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
			break
		}
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); strings.Contains(string(b), ") Z ") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv3, err := Find(ctx, unreachable, dir, nil)
	if err != nil {
		t.Fatalf("Find after kill -9: %v", err)
	}
	t.Cleanup(func() { _ = srv3.Stop() })
	if n := query(t, srv3.URL, `SELECT count(*)::int FROM kept`); n != 2 {
		t.Errorf("rows after kill -9 and restart = %d, want 2", n)
	}

	// A URL that answers is used as it is.
	ext, err := Find(ctx, srv3.URL, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ext.Private || ext.URL != srv3.URL {
		t.Errorf("Find(answering URL) = %+v; want it used as an external server", ext)
	}
	if err := ext.Stop(); err != nil {
		t.Errorf("Stop of an external server: %v", err)
	}
	if err := ping(ctx, srv3.URL, 3*time.Second); err != nil {
		t.Errorf("stopping the external handle stopped the server: %v", err)
	}
}

func TestNoPostgres(t *testing.T) {
	_, err := Find(context.Background(), unreachable, t.TempDir(), nil, WithBinDirs())
	if !errors.Is(err, ErrNoPostgres) {
		t.Fatalf("err = %v; want ErrNoPostgres", err)
	}
	want := "no Postgres answered at " + unreachable + " and no Postgres binaries were found; " +
		"install with `sudo apt-get install postgresql` or set DATABASE_URL"
	if err.Error() != want {
		t.Errorf("message:\n got %s\nwant %s", err, want)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("message is not one line")
	}

	// A folder without the binaries counts as none.
	_, err = Find(context.Background(), unreachable, t.TempDir(), nil, WithBinDirs(t.TempDir()))
	if !errors.Is(err, ErrNoPostgres) {
		t.Fatalf("err = %v; want ErrNoPostgres", err)
	}
}

func TestNoPostgresRedactsPassword(t *testing.T) {
	_, err := Find(context.Background(), "postgres://app:secret@127.0.0.1:1/db", t.TempDir(), nil, WithBinDirs())
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v; want the password hidden", err)
	}
}
