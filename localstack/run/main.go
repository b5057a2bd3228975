// Command devstack runs the whole JobWeaver platform in one process: the
// four functions behind a local API Gateway, event-source mappings, an
// EventBridge schedule, an embedded Kafka broker and Postgres. It is what
// `make run` starts. Run it with --help for every setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/jobweaver/jobweaver/localstack/internal/cli"
	"github.com/jobweaver/jobweaver/shared/devstack"
)

func main() { os.Exit(run()) }

func run() int {
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	cli.Flags(fs)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, `Usage: make run   (or: go run ./localstack/run [--flag=value ...])
       make clean (or: go run ./localstack/run [--flag=value ...] clean)

Runs JobWeaver on this machine: the api, scheduler, worker and dlq handlers,
unchanged, fed by a local API Gateway (HTTP), event-source mappings (Kafka
consumer groups), and an EventBridge schedule (a ticker). Kafka is an
embedded broker persisted under DATA_DIR/kafka unless KAFKA_BROKERS is set
(then KAFKA_AUTH and its settings say how every client connects to it).
Postgres is DATABASE_URL, or a private cluster under DATA_DIR/postgres
started from the installed Postgres binaries. Ctrl-C stops it cleanly; a
hard kill loses nothing. The HTTP fronts listen on 127.0.0.1 unless
API_ADDR, SCHEDULER_ADDR or WORKER_ADDR name another address; the internal
routes answer only clients on this machine whatever their address.

clean resets what make run keeps: it drops the databases make run created
on DATABASE_URL's server (and lists them), then removes DATA_DIR. Stop the
stack first.

Every setting is an environment variable; each also has a flag, which wins.
A bad value stops the start with one line naming the variable.
`)
		cli.PrintVars(w)
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	clean := fs.NArg() == 1 && fs.Arg(0) == "clean"
	if fs.NArg() > 0 && !clean {
		fmt.Fprintf(os.Stderr, "devstack: unexpected argument %q (see --help)\n", fs.Arg(0))
		return 2
	}
	cfg, code, ok := cli.Load(fs)
	if !ok {
		return code
	}
	if clean {
		if err := devstack.Clean(context.Background(), cfg, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stack, err := devstack.Start(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	<-ctx.Done()
	stop() // a second Ctrl-C kills at once
	fmt.Println("stopping the local stack...")
	stack.Close()
	fmt.Println("stopped.")
	return 0
}
