// Package config reads settings from environment variables. Each getter
// takes the variable's name and default; the first bad value is kept and
// reported by Err as one line that names the variable and what it expects.
package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env reads variables through Lookup.
type Env struct {
	Lookup func(string) (string, bool)
	err    error
}

// FromOS reads the process environment.
func FromOS() *Env { return &Env{Lookup: os.LookupEnv} }

// FromMap reads m, for tests.
func FromMap(m map[string]string) *Env {
	return &Env{Lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

// Err returns the first problem found, or nil.
func (e *Env) Err() error { return e.err }

// Report records err, a problem found in a value already read (a list
// entry that does not parse), unless another was found first. err should
// name the variable.
func (e *Env) Report(err error) {
	if e.err == nil {
		e.err = err
	}
}

func (e *Env) fail(name, want, got string) {
	if e.err == nil {
		e.err = fmt.Errorf("config: %s must be %s (got %q)", name, want, got)
	}
}

func (e *Env) get(name string) (string, bool) {
	v, ok := e.Lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// String returns the variable or def.
func (e *Env) String(name, def string) string {
	if v, ok := e.get(name); ok {
		return v
	}
	return def
}

// Required returns the variable, recording an error if it is unset.
func (e *Env) Required(name string) string {
	v, ok := e.get(name)
	if !ok && e.err == nil {
		e.err = fmt.Errorf("config: %s is required but not set", name)
	}
	return v
}

// List returns a comma-separated variable as a slice, or def.
func (e *Env) List(name string, def []string) []string {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Int returns an integer within [min, max].
func (e *Env) Int(name string, def, min, max int) int {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		e.fail(name, fmt.Sprintf("an integer from %d to %d", min, max), v)
		return def
	}
	return n
}

// Float returns a number within [min, max].
func (e *Env) Float(name string, def, min, max float64) float64 {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < min || f > max {
		e.fail(name, fmt.Sprintf("a number from %g to %g", min, max), v)
		return def
	}
	return f
}

// Duration returns a Go duration (such as 250ms or 5m) within [min, max].
func (e *Env) Duration(name string, def, min, max time.Duration) time.Duration {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min || d > max {
		e.fail(name, fmt.Sprintf("a duration from %s to %s, such as 500ms or 2m", min, max), v)
		return def
	}
	return d
}

// Bool returns true/false/1/0.
func (e *Env) Bool(name string, def bool) bool {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.fail(name, "true or false", v)
		return def
	}
	return b
}

// Invalid is the error of a bad setting that a config's validate finds
// after reading: "config: NAME must be WANT (got GOT)", one line as Env's
// own errors.
func Invalid(name, want string, got any) error {
	return fmt.Errorf("config: %s must be %s (got %v)", name, want, got)
}
