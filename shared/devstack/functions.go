package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/jobweaver/jobweaver/shared/api"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/lag"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/scheduler"
	"github.com/jobweaver/jobweaver/shared/tracing"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// Functions are the four function names in start order.
var Functions = []string{invoke.API, invoke.Scheduler, invoke.Worker, invoke.DLQ}

func migrations(name string) fs.FS {
	switch name {
	case invoke.API:
		return api.Migrations()
	case invoke.Scheduler:
		return scheduler.Migrations()
	case invoke.Worker:
		return worker.Migrations()
	case invoke.DLQ:
		return dlq.Migrations()
	}
	return nil
}

// openFunctions opens each named function's deps (its own database,
// migrated, and a producer), builds its service and registers its handler
// in inv. It returns the deps to close.
func openFunctions(ctx context.Context, cfg Config, in *infra, names []string, inv *invoke.Local) (_ []*wiring.Deps, err error) {
	urls, err := databases(ctx, in.dbURL, cfg.DatabasePrefix, names)
	if err != nil {
		return nil, err
	}
	logs := cfg.Logs
	if logs == nil {
		logs = os.Stdout
	}
	var all []*wiring.Deps
	defer func() {
		if err != nil {
			for _, d := range all {
				d.Close()
			}
		}
	}()
	tcfg := sharedStore(cfg.Tracing)
	for _, name := range names {
		kcfg := in.kafka
		kcfg.ClientID = "jobweaver-" + name
		tp, err := tracing.New(ctx, name, tcfg)
		if err != nil {
			return nil, fmt.Errorf("devstack: %s: %w", name, err)
		}
		deps, err := wiring.Open(ctx, name, urls[name], int32(cfg.DBMaxConns), true, migrations(name), kcfg, logging.NewAt(name, logs, cfg.LogLevel), wiring.WithTracing(tp))
		if err != nil {
			return nil, fmt.Errorf("devstack: %s: %w", name, err)
		}
		all = append(all, deps)
		h, err := newHandler(cfg, name, deps, inv)
		if err != nil {
			return nil, fmt.Errorf("devstack: %s: %w", name, err)
		}
		inv.Register(name, trigger.HandleFunc(tracing.Wrap(tp, h)))
	}
	return all, nil
}

type handleFunc = func(context.Context, json.RawMessage) (any, error)

// sharedStore gives the in-process functions one span store, so that the
// api's GET /api/jobs/{id}/trace sees every function's spans (unless
// spans go to OTLP).
func sharedStore(c tracing.Config) tracing.Config {
	if c.Endpoint == "" && c.Store == nil && !c.Disabled {
		c.Store = tracing.NewStore(c.StoreSpans)
	}
	return c
}

func newHandler(cfg Config, name string, deps *wiring.Deps, inv invoke.Invoker) (handleFunc, error) {
	switch name {
	case invoke.API:
		acfg := cfg.API
		// GET /api/system reads the mappings' lag from the broker, with
		// the api's own client (admin requests; it joins no group).
		acfg.Source = api.SourceLocal
		if acfg.Lag == nil && deps.Producer != nil {
			acfg.Lag = &lag.Kafka{Admin: kadm.NewClient(deps.Producer), Mappings: lag.Mappings(GroupPrefix)}
		}
		s, err := api.New(acfg, deps, inv)
		if err != nil {
			return nil, err
		}
		return s.Handle, nil
	case invoke.Scheduler:
		scfg := cfg.Scheduler
		scfg.DLQ = inv // the tick calls the dlq's maintenance route
		s, err := scheduler.New(scfg, deps)
		if err != nil {
			return nil, err
		}
		return s.Handle, nil
	case invoke.Worker:
		wcfg := cfg.Worker
		wcfg.Scheduler = inv // attempts start through the scheduler
		s, err := worker.New(wcfg, deps)
		if err != nil {
			return nil, err
		}
		return s.Handle, nil
	case invoke.DLQ:
		dcfg := cfg.DLQ
		dcfg.Scheduler = inv // an entry's retry asks the scheduler
		s, err := dlq.New(dcfg, deps)
		if err != nil {
			return nil, err
		}
		return s.Handle, nil
	}
	return nil, fmt.Errorf("unknown function %q (want api, scheduler, worker or dlq)", name)
}

func closeAll(deps []*wiring.Deps) {
	for _, d := range deps {
		d.Close()
	}
}

// discardIfNil returns w, or io.Discard.
func discardIfNil(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// startRemote creates and migrates the named functions' databases (what
// the deploy step does in AWS) and starts them through cfg.Remote.
func startRemote(ctx context.Context, cfg Config, in *infra, names []string) (invoke.Invoker, error) {
	urls, err := databases(ctx, in.dbURL, cfg.DatabasePrefix, names)
	if err != nil {
		return nil, err
	}
	env := FunctionEnv{}
	for _, name := range names {
		if err := migrate(ctx, urls[name], migrations(name)); err != nil {
			return nil, fmt.Errorf("devstack: %s: %w", name, err)
		}
		env[name] = kafkaEnv(in.kafka)
		env[name]["DATABASE_URL"] = urls[name]
		if name == invoke.API { // GET /api/system reads the lag from the broker
			env[name]["LAG_SOURCE"] = lag.SourceKafka
			env[name]["KAFKA_GROUP_PREFIX"] = GroupPrefix
		}
	}
	inv, err := cfg.Remote(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("devstack: start the functions: %w", err)
	}
	if inv == nil {
		return nil, errors.New("devstack: Config.Remote returned no invoker")
	}
	return inv, nil
}

// migrate applies a function's migrations to its database.
func migrate(ctx context.Context, url string, fsys fs.FS) error {
	pool, err := pgdb.Open(ctx, url, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	return pgdb.Migrate(ctx, pool, fsys)
}

// closeRemote closes a remote invoker that can be closed.
func closeRemote(inv invoke.Invoker) {
	if c, ok := inv.(io.Closer); ok {
		_ = c.Close()
	}
}
