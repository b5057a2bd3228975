// Command invoke runs one JobWeaver function's handler once on an event
// file, as Lambda would, and prints its JSON result:
//
//	make invoke FN=worker EVENT=events/worker/run-job.json
//	go run ./localstack/invoke worker events/worker/run-job.json
//
// It uses the broker and Postgres of a `make run` on the same DATA_DIR if
// one is running, and otherwise starts them for the one invocation.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/jobweaver/jobweaver/localstack/internal/cli"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/devstack"
)

func main() { os.Exit(run()) }

func run() int {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	cli.Flags(fs)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, `Usage: make invoke FN=<function> EVENT=<file>
   or: go run ./localstack/invoke [--flag=value ...] <function> <event.json>

Runs the handler of one function (api, scheduler, worker or dlq) once on the
event in the file, with a deadline of FUNCTION_TIMEOUT, and prints its JSON
result on stdout (logs go to stderr). Sample events are under events/.

It connects to the Kafka broker and Postgres of a local stack running on the
same DATA_DIR (make run); if none runs, it starts them for this invocation.
The settings are those of make run:
`)
		cli.PrintVars(w)
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return 2
	}
	fn, file := fs.Arg(0), fs.Arg(1)
	payload, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(os.Stderr, "invoke: %v\n", err)
		return 1
	}
	if err := cli.Apply(fs); err != nil {
		fmt.Fprintf(os.Stderr, "invoke: %v\n", err)
		return 2
	}
	cfg, err := devstack.ConfigFromEnv(config.FromOS())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg.Logs = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out, err := devstack.InvokeOnce(ctx, cfg, fn, payload, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "invoke: %s: %v\n", fn, err)
		return 1
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(out)
	}
	fmt.Println(pretty.String())
	return 0
}
