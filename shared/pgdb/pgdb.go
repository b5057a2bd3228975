// Package pgdb opens the pgx pools the services use, creates their
// databases, and applies each service's embedded goose migrations.
package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Open returns a pool for url and checks that the server answers.
// maxConns of 0 keeps pgx's default.
func Open(ctx context.Context, dsn string, maxConns int32, opts ...func(*pgxpool.Config)) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgdb: parse database URL: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	for _, o := range opts {
		o(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgdb: connect: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgdb: %s does not answer: %w", Redact(dsn), err)
	}
	return pool, nil
}

// Migrate applies every pending migration in fsys (files named
// NNNNN_name.sql with goose annotations) to the pool's database. A
// Postgres advisory lock keeps concurrent cold starts from racing.
func Migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("pgdb: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("pgdb: migrate up: %w", err)
	}
	return nil
}

// WithDatabase returns dsn with its database name replaced by name.
func WithDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("pgdb: parse database URL: %w", err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	// keyword=value form
	return dsn + " dbname=" + name, nil
}

// EnsureDatabase creates database name on the server of adminDSN if it does
// not exist yet.
func EnsureDatabase(ctx context.Context, adminDSN, name string) error {
	_, err := CreateDatabase(ctx, adminDSN, name, "")
	return err
}

// CreateDatabase creates database name on the server of adminDSN if it
// does not exist yet, and reports whether it did. A database it creates
// gets comment as its COMMENT (none if empty), so that whoever created it
// can tell it from one it did not (DatabaseComment).
func CreateDatabase(ctx context.Context, adminDSN, name, comment string) (created bool, err error) {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return false, fmt.Errorf("pgdb: connect to %s: %w", Redact(adminDSN), err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return false, fmt.Errorf("pgdb: look up database %s: %w", name, err)
	}
	if exists {
		return false, nil
	}
	ident := pgx.Identifier{name}.Sanitize()
	_, err = conn.Exec(ctx, "CREATE DATABASE "+ident)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") { // created concurrently
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pgdb: create database %s: %w", name, err)
	}
	if comment != "" {
		// COMMENT takes no parameters: the comment is a quoted literal.
		lit := "'" + strings.ReplaceAll(comment, "'", "''") + "'"
		if _, err := conn.Exec(ctx, "COMMENT ON DATABASE "+ident+" IS "+lit); err != nil {
			return true, fmt.Errorf("pgdb: mark database %s: %w", name, err)
		}
	}
	return true, nil
}

// DatabaseComment returns the COMMENT of database name on the server of
// adminDSN, and whether the database exists.
func DatabaseComment(ctx context.Context, adminDSN, name string) (comment string, exists bool, err error) {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return "", false, fmt.Errorf("pgdb: connect to %s: %w", Redact(adminDSN), err)
	}
	defer conn.Close(ctx)
	var c *string
	err = conn.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`, name).Scan(&c)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("pgdb: look up database %s: %w", name, err)
	}
	if c != nil {
		comment = *c
	}
	return comment, true, nil
}

// DropDatabase drops name, disconnecting its sessions.
func DropDatabase(ctx context.Context, adminDSN, name string) error {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}
