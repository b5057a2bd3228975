package e2e

import (
	"context"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/jobweaver/jobweaver/shared/api"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/scheduler"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// Every service's migrations go up, all the way down, and up again.
func TestMigrationsDownAndUpAgain(t *testing.T) {
	for name, migrations := range map[string]fs.FS{
		"api": api.Migrations(), "scheduler": scheduler.Migrations(), "worker": worker.Migrations(), "dlq": dlq.Migrations(),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			pool := pgtest.Pool(t, nil)
			if err := pgdb.Migrate(ctx, pool, migrations); err != nil {
				t.Fatal(err)
			}
			db := stdlib.OpenDBFromPool(pool)
			defer db.Close()
			p, err := goose.NewProvider(goose.DialectPostgres, db, migrations)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.DownTo(ctx, 0); err != nil {
				t.Fatalf("down: %v", err)
			}
			var tables int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version'`).Scan(&tables); err != nil {
				t.Fatal(err)
			}
			if tables != 0 {
				t.Errorf("%d tables left after migrating down", tables)
			}
			if err := pgdb.Migrate(ctx, pool, migrations); err != nil {
				t.Fatalf("up again: %v", err)
			}
		})
	}
}
