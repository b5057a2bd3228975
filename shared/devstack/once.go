package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/trigger"
)

// InvokeOnce runs one function's handler once on payload, as Lambda would
// (deadline FUNCTION_TIMEOUT, or TICK_INTERVAL for a scheduled event), and
// returns its JSON result.
//
// If a local stack runs on cfg.DataDir, the function uses that stack's
// broker and Postgres server; otherwise InvokeOnce starts them itself
// (the embedded broker on a random port), and stops them afterwards. The
// api needs the other three functions for its queries, so invoking the
// api builds all four; the worker starts its attempts through the
// scheduler, so invoking the worker builds both; any other function is
// built alone.
//
// With cfg.Remote set, the functions run through it instead (see Remote):
// their databases are created and migrated, Remote starts them, and the
// payload goes to the invoker it returns.
func InvokeOnce(ctx context.Context, cfg Config, function string, payload []byte, out io.Writer) ([]byte, error) {
	out = discardIfNil(out)
	if !slices.Contains(Functions, function) {
		return nil, fmt.Errorf("devstack: unknown function %q (want api, scheduler, worker or dlq)", function)
	}
	if !json.Valid(payload) {
		return nil, errors.New("devstack: the event is not valid JSON")
	}
	cfg = cfg.withDefaults()
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	cfg.DataDir = dir

	var in *infra
	lock, err := lockData(dir)
	switch {
	case errors.Is(err, errLocked):
		st, err := readState(dir)
		if err != nil {
			return nil, fmt.Errorf("devstack: a local stack (pid %d) holds %s but its %s cannot be read (is it still starting?): %v", lockHolder(dir), dir, stateName, err)
		}
		fmt.Fprintf(out, "using the running local stack (pid %d): Kafka %v, Postgres %s\n", st.PID, st.Brokers, pgdb.Redact(st.DatabaseURL))
		kc, err := runningKafka(st, cfg.Kafka)
		if err != nil {
			return nil, err
		}
		in = &infra{dbURL: st.DatabaseURL, out: out}
		if err := in.setKafka(kc); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		defer lock.unlock()
		cfg.KafkaPort = 0 // never take the port a later `make run` wants
		if in, err = openInfra(ctx, cfg, out); err != nil {
			return nil, err
		}
		defer in.close()
		fmt.Fprintf(out, "no local stack running; started Kafka %v and Postgres %s for this invocation\n", in.brokers, pgdb.Redact(in.dbURL))
	}

	names := []string{function}
	switch function {
	case invoke.API:
		names = Functions
	case invoke.Worker: // it starts attempts through the scheduler
		names = []string{invoke.Scheduler, invoke.Worker}
	}
	if cfg.Remote != nil {
		// The function has a deadline of its own (its timeout);
		// FunctionTimeout only bounds the wait for it.
		inv, err := startRemote(ctx, cfg, in, names)
		if err != nil {
			return nil, err
		}
		defer closeRemote(inv)
		ictx, cancel := context.WithTimeout(ctx, cfg.FunctionTimeout)
		defer cancel()
		return inv.Invoke(ictx, function, payload)
	}
	inv := &invoke.Local{}
	deps, err := openFunctions(ctx, cfg, in, names, inv)
	if err != nil {
		return nil, err
	}
	defer closeAll(deps)
	// A scheduled event gets one tick's deadline, as under `make run`
	// (the tick loops dispatch passes until shortly before its deadline).
	timeout := cfg.FunctionTimeout
	if kind, _ := trigger.Detect(payload); kind == trigger.Schedule {
		timeout = cfg.TickInterval
	}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return inv.Invoke(ictx, function, payload)
}
