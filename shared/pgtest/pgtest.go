// Package pgtest gives each test its own freshly migrated Postgres
// database on a real server, and drops it when the test ends.
//
// The server is found the way `make run` finds one: TEST_DATABASE_URL if
// set, else the local server at 127.0.0.1:5432, else a private throwaway
// cluster started from the installed Postgres binaries. A test that cannot
// reach any of them fails; it never skips.
package pgtest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/pgserver"
)

var (
	once     sync.Once
	adminDSN string
	findErr  error
	counter  atomic.Int64
)

// AdminDSN returns a connection string for the test server's maintenance
// database, starting a private cluster if needed.
func AdminDSN(tb testing.TB) string {
	tb.Helper()
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		url := os.Getenv("TEST_DATABASE_URL")
		if url == "" {
			url = pgserver.DefaultURL
		}
		// One folder for every run, so a private cluster started by an
		// earlier run is found and reused rather than started again.
		dir := filepath.Join(os.TempDir(), "jobweaver-pgtest")
		srv, err := pgserver.Find(ctx, url, dir, nil)
		if err != nil {
			findErr = err
			return
		}
		adminDSN = srv.URL
		// A private cluster is left running for the next test binary.
	})
	if findErr != nil {
		tb.Fatalf("pgtest: no Postgres for tests: %v", findErr)
	}
	return adminDSN
}

// NewDatabase creates an empty database for this test and returns its URL.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	admin := AdminDSN(tb)
	name := fmt.Sprintf("jwtest_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, counter.Add(1))
	ctx := context.Background()
	if err := pgdb.EnsureDatabase(ctx, admin, name); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := pgdb.DropDatabase(context.Background(), admin, name); err != nil {
			tb.Logf("pgtest: drop %s: %v", name, err)
		}
	})
	dsn, err := pgdb.WithDatabase(admin, name)
	if err != nil {
		tb.Fatal(err)
	}
	return dsn
}

// Pool creates a database for this test, applies migrations to it, and
// returns a pool that is closed when the test ends.
func Pool(tb testing.TB, migrations fs.FS) *pgxpool.Pool {
	tb.Helper()
	dsn := NewDatabase(tb)
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, dsn, 20)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(pool.Close)
	if migrations != nil {
		if err := pgdb.Migrate(ctx, pool, migrations); err != nil {
			tb.Fatalf("pgtest: %v", err)
		}
	}
	return pool
}
