// Package cli is what the local-stack commands (make run, make invoke,
// make invoke-remote) share: one flag per environment variable (--data-dir
// for DATA_DIR), with a help text that describes every variable; reading
// the configuration with the flags applied (Load); and the whole of a
// one-shot invocation but the invoking itself (RunInvoke).
package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/devstack"
)

// FlagName is the flag for an environment variable: DATA_DIR -> data-dir.
func FlagName(env string) string {
	return strings.ToLower(strings.ReplaceAll(env, "_", "-"))
}

// Flags registers a flag for every variable of devstack.Vars on fs.
func Flags(fs *flag.FlagSet) map[string]*string {
	vals := map[string]*string{}
	for _, v := range devstack.Vars {
		vals[v.Name] = fs.String(FlagName(v.Name), "", v.Help)
	}
	return vals
}

// Apply exports the flags that were given as environment variables, so
// that they win over the environment everywhere it is read.
func Apply(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		name := strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if e := os.Setenv(name, f.Value.String()); e != nil && err == nil {
			err = e
		}
	})
	return err
}

// PrintVars writes the variables, the stack's own first.
func PrintVars(w io.Writer) {
	for _, group := range []struct {
		title string
		stack bool
	}{{"Local stack:", true}, {"Functions (passed through to their handlers):", false}} {
		fmt.Fprintf(w, "\n%s\n", group.title)
		for _, v := range devstack.Vars {
			if v.Stack != group.stack {
				continue
			}
			def := v.Default
			if def == "" {
				def = "unset"
			}
			fmt.Fprintf(w, "  %s, --%s (default %s)\n      %s\n", v.Name, FlagName(v.Name), def, v.Help)
		}
	}
}

// Load exports the flags given on fs (Apply) and reads the local stack's
// configuration from the environment. A failure is one line on
// fs.Output(), and the exit status to end with: 2 for the flags, 1 for a
// bad setting.
func Load(fs *flag.FlagSet) (devstack.Config, int, bool) {
	if err := Apply(fs); err != nil {
		fmt.Fprintf(fs.Output(), "%s: %v\n", fs.Name(), err)
		return devstack.Config{}, 2, false
	}
	cfg, err := devstack.ConfigFromEnv(config.FromOS())
	if err != nil {
		fmt.Fprintln(fs.Output(), err)
		return devstack.Config{}, 1, false
	}
	return cfg, 0, true
}

// InvokeFunc invokes function once with payload and returns its result.
type InvokeFunc func(ctx context.Context, cfg devstack.Config, function string, payload []byte) ([]byte, error)

// RunInvoke is a one-shot invocation command (make invoke, make
// invoke-remote) around invoke: it parses args on fs (with Flags and a
// Usage registered) as [--flag=value ...] <function> <event.json>, checks
// the function's name and that the event is JSON, reads the configuration
// (Load; the functions' logs go to fs.Output()), runs invoke until it
// returns or a Ctrl-C cancels it, and prints its result on stdout as
// indented JSON. Everything else goes to fs.Output(), errors as one line
// that starts with fs.Name(). It returns the exit status: 0, 1 for a
// failure, 2 for a bad command line.
func RunInvoke(fs *flag.FlagSet, args []string, stdout io.Writer, invoke InvokeFunc) int {
	stderr := fs.Output()
	if err := fs.Parse(args); err != nil {
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
	if !slices.Contains(devstack.Functions, fn) {
		fmt.Fprintf(stderr, "%s: unknown function %q (want api, scheduler, worker or dlq)\n", fs.Name(), fn)
		return 2
	}
	payload, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		return 1
	}
	if !json.Valid(payload) {
		fmt.Fprintf(stderr, "%s: %s is not valid JSON\n", fs.Name(), file)
		return 1
	}
	cfg, code, ok := Load(fs)
	if !ok {
		return code
	}
	cfg.Logs = stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out, err := invoke(ctx, cfg, fn, payload)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s: %v\n", fs.Name(), fn, err)
		return 1
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(out)
	}
	fmt.Fprintln(stdout, pretty.String())
	return 0
}
