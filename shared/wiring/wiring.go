// Package wiring opens what every JobWeaver function needs from its
// environment: its Postgres pool (migrated), a Kafka producer, an outbox
// relay and a logger. Function mains and the local stack both use it.
package wiring

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jobweaver/jobweaver/shared/dbsecret"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/tracing"
)

// Deps are a function's connections.
type Deps struct {
	Pool     *pgxpool.Pool
	Producer *kgo.Client
	// Kafka is how Producer connects, for other clients of the same
	// brokers (the dlq reads offset ranges back to replay them).
	Kafka kafka.Config
	Relay *outbox.Relay
	Log   *slog.Logger
	// Tracing is the function's OpenTelemetry provider (nil: none). Its
	// pool's queries and its producer's records are traced (otelpgx,
	// kotel); the function's entry point is wrapped with tracing.Wrap.
	Tracing *tracing.Provider
}

// Option adjusts Open.
type Option func(*options)

type options struct{ tracing *tracing.Provider }

// WithTracing traces the function's queries and produced records with p.
func WithTracing(p *tracing.Provider) Option { return func(o *options) { o.tracing = p } }

// Close deletes the outbox rows already published and releases the
// connections.
func (d *Deps) Close() {
	if d.Relay != nil && d.Pool != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = d.Relay.Flush(ctx) // rows left behind are only published again
		cancel()
	}
	if d.Producer != nil {
		d.Producer.Close()
	}
	if d.Pool != nil {
		d.Pool.Close()
	}
	if d.Tracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = d.Tracing.Shutdown(ctx) // spans not exported by now are lost, not fatal
		cancel()
	}
}

// FromEnv reads DATABASE_URL (completed from the secret DB_SECRET_ARN when
// set), DB_MAX_CONNS, DB_MIGRATE, KAFKA_BROKERS, LOG_LEVEL and the
// OpenTelemetry settings (tracing.ConfigFromEnv) for a function's main,
// and connects: the pool pings the database once,
// the Kafka client dials nothing until the first produce.
//
// DB_MIGRATE defaults to false: in Lambda the migrations run once at
// deploy time, not in every cold start (which would add a lock and a
// round of queries to each, and let a new environment's init fail on a
// migration). DB_MIGRATE=true applies them at init, under a Postgres
// advisory lock. The local stack migrates its databases itself.
func FromEnv(ctx context.Context, service string, env *config.Env, migrations fs.FS) (*Deps, error) {
	dsn := env.Required("DATABASE_URL")
	maxConns := env.Int("DB_MAX_CONNS", 10, 1, 1000)
	migrate := env.Bool("DB_MIGRATE", false)
	secretARN := env.String("DB_SECRET_ARN", "")
	kcfg := kafka.ConfigFromEnv(env, "jobweaver-"+service)
	level := logging.LevelFromEnv(env)
	tcfg := tracing.ConfigFromEnv(env)
	if err := env.Err(); err != nil {
		return nil, err
	}
	tp, err := tracing.New(ctx, service, tcfg)
	if err != nil {
		return nil, err
	}
	if secretARN != "" {
		var err error
		if dsn, err = dbsecret.FromAWS(ctx, secretARN, dsn); err != nil {
			return nil, fmt.Errorf("config: DB_SECRET_ARN: %w", err)
		}
	}
	return Open(ctx, service, dsn, int32(maxConns), migrate, migrations, kcfg, logging.NewAt(service, nil, level), WithTracing(tp))
}

// Open connects with explicit settings.
func Open(ctx context.Context, service, dsn string, maxConns int32, migrate bool, migrations fs.FS, kcfg kafka.Config, log *slog.Logger, opts ...Option) (*Deps, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	var (
		poolOpts []func(*pgxpool.Config)
		kgoOpts  []kgo.Opt
	)
	if o.tracing != nil {
		poolOpts = append(poolOpts, tracing.Pool(o.tracing))
		kgoOpts = append(kgoOpts, tracing.Producer(o.tracing))
	}
	pool, err := pgdb.Open(ctx, dsn, maxConns, poolOpts...)
	if err != nil {
		return nil, err
	}
	if migrate {
		if err := pgdb.Migrate(ctx, pool, migrations); err != nil {
			pool.Close()
			return nil, err
		}
	}
	prod, err := kafka.NewProducer(kcfg, kgoOpts...)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &Deps{
		Pool:     pool,
		Producer: prod,
		Kafka:    kcfg,
		Relay:    &outbox.Relay{Pool: pool, Producer: prod, Service: service, Log: log},
		Log:      log,
		Tracing:  o.tracing,
	}, nil
}

// Fail ends a function's init: it writes one line, "<service>: <err>", to
// stderr (the function's log) and exits with status 1, which Lambda
// reports as Runtime.ExitError.
func Fail(service string, err error) {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if !strings.HasPrefix(msg, service+":") {
		msg = service + ": " + msg
	}
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(1)
}
