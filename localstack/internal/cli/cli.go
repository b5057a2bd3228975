// Package cli is what the local-stack commands share: one flag per
// environment variable (--data-dir for DATA_DIR), with a help text that
// describes every variable.
package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

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
