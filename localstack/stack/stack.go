// Package stack describes JobWeaver's deployment on LocalStack: what
// localstack/compose.yaml runs (service host names, listeners, ports, the
// Docker network), the names the deploy command gives the functions, the
// API and the schedule, and the Kafka event-source mappings that either
// LocalStack Pro or the bridge (localstack/bridge) provides. The deploy
// command and the bridge share it, and its tests check it against the
// compose file. The bridge also stands in for API Gateway v2 (HTTP APIs),
// which LocalStack's community edition lacks too.
package stack

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/flow"
	"github.com/jobweaver/jobweaver/shared/invoke"
)

// What compose.yaml runs, seen from the host and from inside the Docker
// network (the Lambda containers LocalStack starts join it).
const (
	// ComposeFile is the compose file, relative to the repository root.
	ComposeFile = "localstack/compose.yaml"
	// Network is the compose network, by its fixed name; LocalStack starts
	// the Lambda containers on it (LAMBDA_DOCKER_NETWORK).
	Network = "jobweaver-localstack"

	// Endpoint is LocalStack's gateway from the host.
	Endpoint = "http://localhost:4566"
	// Region and AccountID are LocalStack's defaults.
	Region    = "us-east-1"
	AccountID = "000000000000"

	// HostBrokers is Redpanda's external listener, from the host.
	HostBrokers = "localhost:19092"
	// InternalBrokers is Redpanda's internal listener, from the Lambda
	// containers and LocalStack itself.
	InternalBrokers = "redpanda:9092"

	// HostDatabaseURL is the compose Postgres from the host, as its
	// superuser, on its maintenance database.
	HostDatabaseURL = "postgres://postgres:postgres@localhost:15432/postgres?sslmode=disable"
	// InternalDatabaseHost is the compose Postgres inside the network.
	InternalDatabaseHost = "postgres:5432"
)

// BridgeAPIAddr is where the bridge serves the API (API Gateway v2 being a
// LocalStack Pro feature), on this machine.
const BridgeAPIAddr = "127.0.0.1:8090"

// Names the deploy command gives what it creates.
const (
	// FunctionPrefix prefixes the platform's function names:
	// jobweaver-api, jobweaver-scheduler, ...
	FunctionPrefix = "jobweaver-"
	// APIName is the API Gateway HTTP API (with another function prefix,
	// the prefix without its dash).
	APIName = "jobweaver"
	// TickRule is the EventBridge rule that runs the scheduler's tick, on
	// TickSchedule (with another prefix, <prefix>scheduler-tick).
	TickRule     = "jobweaver-scheduler-tick"
	TickSchedule = "rate(1 minute)"
	// Role is the execution role the functions are created with. LocalStack
	// does not enforce IAM by default, so it need not exist.
	Role = "arn:aws:iam::" + AccountID + ":role/jobweaver-lambda"
)

// Functions are the platform's functions, in the order they are deployed:
// the ones the api calls first.
var Functions = []string{invoke.Scheduler, invoke.Worker, invoke.DLQ, invoke.API}

// FunctionName is a function's deployed name: prefix + fn.
func FunctionName(prefix, fn string) string { return prefix + fn }

// DatabasePrefix prefixes the functions' databases.
const DatabasePrefix = "jobweaver"

// Database is a function's own database: <prefix>_<fn>, jobweaver_api
// and so on by default (the names the local stack uses too).
func Database(prefix, fn string) string { return prefix + "_" + fn }

// Route is one Kafka event-source mapping: a topic to a function, read by
// a consumer group.
type Route struct {
	Topic    string
	Function string // the platform's name: scheduler, worker or dlq
	Group    string // consumer group ID
}

// GroupPrefix prefixes the mappings' consumer groups, whatever the
// function prefix: jobweaver-<function>-<topic>, as in the local stack.
const GroupPrefix = "jobweaver-"

// Routes are the platform's event-source mappings, one per topic, as the
// flow table (shared/flow) declares them, which the local stack
// (shared/devstack) follows too.
var Routes = func() []Route {
	rs := make([]Route, len(flow.Routes))
	for i, r := range flow.Routes {
		rs[i] = Route{Topic: r.Topic, Function: r.Consumer, Group: r.Group(GroupPrefix)}
	}
	return rs
}()

// Var is a setting of a command: an environment variable with a flag of
// its own (which wins), a default and a help text.
type Var struct {
	Env, Flag, Default, Help string
	// Shown, if set, is the default as --help shows it, for a default
	// that is derived from other settings (Default is then "").
	Shown string
}

// Settings binds vars to fs. After fs.Parse, Env returns a config.Env that
// reads each variable from its flag if given, else from getenv, else its
// default; other variables (such as KAFKA_AUTH) come from getenv alone.
type Settings struct {
	vars  []Var
	flags map[string]*string
	set   map[string]bool
}

// Bind registers a string flag for every var on fs.
func Bind(fs *flag.FlagSet, vars []Var) *Settings {
	s := &Settings{vars: vars, flags: map[string]*string{}, set: map[string]bool{}}
	for _, v := range vars {
		s.flags[v.Env] = fs.String(v.Flag, "", v.Help)
	}
	return s
}

// Env returns the settings as a config.Env, after fs.Parse.
func (s *Settings) Env(fs *flag.FlagSet, getenv func(string) (string, bool)) *config.Env {
	fs.Visit(func(f *flag.Flag) {
		for _, v := range s.vars {
			if v.Flag == f.Name {
				s.set[v.Env] = true
			}
		}
	})
	defaults := map[string]string{}
	for _, v := range s.vars {
		defaults[v.Env] = v.Default
	}
	return &config.Env{Lookup: func(name string) (string, bool) {
		if s.set[name] {
			return *s.flags[name], true
		}
		if v, ok := getenv(name); ok && strings.TrimSpace(v) != "" {
			return v, true
		}
		d, ok := defaults[name]
		return d, ok && d != ""
	}}
}

// PrintVars writes the settings for a --help text.
func PrintVars(w io.Writer, vars []Var) {
	for _, v := range vars {
		def := v.Default
		if v.Shown != "" {
			def = v.Shown
		}
		if def == "" {
			def = "unset"
		}
		fmt.Fprintf(w, "  --%s, %s (default %s)\n      %s\n", v.Flag, v.Env, def, v.Help)
	}
}

// Parse parses args on fs, which must use flag.ContinueOnError, and
// returns the exit status to end with (0 after --help, 2 for a bad flag or
// an argument) and whether to go on.
func Parse(fs *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (see --help)\n", fs.Name(), fs.Arg(0))
		return 2, false
	}
	return 0, true
}

// OSEnv is os.LookupEnv.
var OSEnv = os.LookupEnv
