// Command invoke-remote invokes one JobWeaver function once through the
// Lambda Invoke API (aws-sdk-go-v2), as AWS callers do, and prints its
// JSON result:
//
//	make invoke-remote FN=worker EVENT=events/worker/run-job.json
//	make invoke-remote FN=api EVENT=events/api/get-job.json ARGS=--aws
//
// By default the function runs under the AWS Lambda Runtime Interface
// Emulator: its real bootstrap binary (built for this machine) with the
// broker and Postgres of a running `make run`, or ones started for this
// invocation. With --aws it invokes the deployed function instead, in
// AWS or LocalStack, configured by the standard AWS chain.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jobweaver/jobweaver/localstack/internal/cli"
	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/emulator"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/trigger"
)

func main() { os.Exit(run()) }

func run() int {
	fs := flag.NewFlagSet("invoke-remote", flag.ContinueOnError)
	aws := fs.Bool("aws", false, "invoke the deployed function (AWS or LocalStack) instead of running it under the emulator")
	name := fs.String("function-name", "", "with --aws: the deployed function's name or ARN (default <FN>_FUNCTION_NAME, else jobweaver-<fn>)")
	cli.Flags(fs)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, `Usage: make invoke-remote FN=<function> EVENT=<file> [ARGS=--aws]
   or: go run ./localstack/invoke-remote [--aws] [--function-name=NAME] [--flag=value ...] <function> <event.json>

Invokes one function (api, scheduler, worker or dlq) once with the event in
the file through the Lambda Invoke API (aws-sdk-go-v2), and prints its JSON
result on stdout; everything else goes to stderr. Sample events are under
events/.

Without --aws, the function runs under the AWS Lambda Runtime Interface
Emulator (built from the Go module proxy once, cached in build/rie/): its
bootstrap is built for this machine into build/emulator/, started with the
Kafka broker and Postgres of a local stack running on the same DATA_DIR
(make run) or, if none runs, ones started for this invocation; its database
is created and migrated first. The api calls the other three functions, so
for the api all four run; the worker starts attempts through the scheduler,
so for the worker both run. Its timeout is FUNCTION_TIMEOUT (TICK_INTERVAL
for a scheduled event, as under make run). The emulator's and the
function's output goes to stderr, then the init and invocation times.

With --aws, the deployed function is invoked: region, credentials and
endpoint come from the standard AWS configuration (AWS_REGION, AWS_PROFILE,
AWS_ACCESS_KEY_ID, ...; AWS_ENDPOINT_URL_LAMBDA or AWS_ENDPOINT_URL for
LocalStack). Its name is --function-name, else <FN>_FUNCTION_NAME
(SCHEDULER_FUNCTION_NAME, ...), else jobweaver-<fn>.

Flags:
  --aws
  --function-name=NAME
`)
		cli.PrintVars(w)
	}
	return cli.RunInvoke(fs, os.Args[1:], os.Stdout, func(ctx context.Context, cfg devstack.Config, fn string, payload []byte) ([]byte, error) {
		if *aws {
			return invokeDeployed(ctx, cfg, fn, *name, payload)
		}
		return invokeEmulated(ctx, cfg, fn, payload)
	})
}

// invokeDeployed invokes the deployed function through the SDK's default
// configuration chain, exactly as the api function reaches the others.
func invokeDeployed(ctx context.Context, cfg devstack.Config, fn, name string, payload []byte) ([]byte, error) {
	if name == "" {
		name = os.Getenv(strings.ToUpper(fn) + "_FUNCTION_NAME")
	}
	if name == "" {
		name = "jobweaver-" + fn
	}
	inv, err := invoke.NewLambda(ctx, map[string]string{fn: name})
	if err != nil {
		return nil, err
	}
	// Lambda enforces the function's own timeout; this only bounds the wait.
	ctx, cancel := context.WithTimeout(ctx, cfg.FunctionTimeout+15*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := inv.Invoke(ctx, fn, payload)
	fmt.Fprintf(os.Stderr, "invoked %s through the Lambda API in %v\n", name, time.Since(start).Round(time.Millisecond))
	return out, err
}

// invokeEmulated runs the function (all four for the api) under the
// emulator and invokes it once.
func invokeEmulated(ctx context.Context, cfg devstack.Config, fn string, payload []byte) ([]byte, error) {
	root, err := emulator.Root(ctx)
	if err != nil {
		return nil, err
	}
	rie, err := emulator.BuildRIE(ctx, root, os.Stderr)
	if err != nil {
		return nil, err
	}
	names := []string{fn}
	switch fn {
	case invoke.API:
		names = emulator.Functions
	case invoke.Worker: // it starts attempts through the scheduler
		names = []string{invoke.Scheduler, invoke.Worker}
	}
	start := time.Now()
	bins, err := emulator.BuildBootstraps(ctx, root, filepath.Join(root, "build", "emulator", runtime.GOARCH), names...)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "built %s for %s in %v\n", strings.Join(names, ", "), runtime.GOARCH, time.Since(start).Round(time.Millisecond))

	// The functions' own settings, as set in this environment.
	env := map[string]string{}
	for _, v := range devstack.Vars {
		if val, ok := os.LookupEnv(v.Name); ok && !v.Stack {
			env[v.Name] = val
		}
	}
	timeout := cfg.FunctionTimeout
	if kind, _ := trigger.Detect(payload); kind == trigger.Schedule && fn == invoke.Scheduler {
		timeout = cfg.TickInterval
	}
	timeout = time.Duration(math.Max(1, math.Ceil(timeout.Seconds()))) * time.Second
	settings := map[string]emulator.FunctionSettings{}
	for _, n := range names {
		settings[n] = emulator.FunctionSettings{Timeout: timeout}
	}
	var cluster *emulator.Cluster
	p := &emulator.Platform{RIE: rie, Bootstraps: bins, Log: os.Stderr, Env: env, Functions: settings,
		Started: func(c *emulator.Cluster) {
			cluster = c
			fmt.Fprintf(os.Stderr, "Lambda Invoke API of the emulated functions: %s\n", c.URL)
		}}
	cfg.Remote = p.Remote()
	// The caller's bound: the emulator enforces the function's timeout.
	cfg.FunctionTimeout = timeout + 30*time.Second
	out, err := devstack.InvokeOnce(ctx, cfg, fn, payload, os.Stderr)
	if cluster != nil {
		report(cluster, fn)
	}
	return out, err
}

// report prints the init and invocation times of fn's invocation.
func report(c *emulator.Cluster, fn string) {
	invs := c.Invocations(fn)
	if len(invs) == 0 {
		return
	}
	// The emulator's report line follows its answer through a pipe.
	var init time.Duration
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if rs := c.Reports(fn); len(rs) > 0 {
			init = rs[0].Init
			break
		}
	}
	inv := invs[0]
	msg := fmt.Sprintf("%s: init %.1f ms, invocation %.1f ms (cold, as the caller saw it)", fn, ms(init), ms(inv.Wall))
	if inv.Failed != "" {
		msg += "; failed: " + inv.Failed
	}
	fmt.Fprintln(os.Stderr, msg)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
