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
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/jobweaver/jobweaver/localstack/internal/cli"
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
	return cli.RunInvoke(fs, os.Args[1:], os.Stdout, func(ctx context.Context, cfg devstack.Config, fn string, payload []byte) ([]byte, error) {
		return devstack.InvokeOnce(ctx, cfg, fn, payload, os.Stderr)
	})
}
