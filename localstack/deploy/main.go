// Command deploy puts JobWeaver on the LocalStack that `make localstack-up`
// started (localstack/compose.yaml): it creates the Kafka topics on
// Redpanda and the functions' databases on Postgres (migrated), deploys
// the four functions from build/<function>.zip (runtime provided.al2023,
// handler bootstrap), wires the API Gateway HTTP API to the api function
// and an EventBridge schedule to the scheduler, and, with LocalStack Pro
// (LOCALSTACK_AUTH_TOKEN set), creates the Kafka event-source mappings;
// without it, `make localstack-bridge` stands in for them.
//
//	make build localstack-deploy
//	go run ./localstack/deploy --dry-run    # print every call, contact nothing
//
// It can run again: what exists is updated or left alone.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/jobweaver/jobweaver/localstack/stack"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// goarch is this machine's architecture; tests set it.
var goarch = runtime.GOARCH

var vars = []stack.Var{
	{Env: "LOCALSTACK_ENDPOINT", Flag: "endpoint", Default: stack.Endpoint, Help: "LocalStack's gateway, from this machine"},
	{Env: "AWS_REGION", Flag: "region", Default: stack.Region, Help: "region to deploy in"},
	{Env: "BUILD_DIR", Flag: "build-dir", Default: "build", Help: "where make build wrote <function>.zip"},
	{Env: "FUNCTION_PREFIX", Flag: "function-prefix", Default: stack.FunctionPrefix, Help: "prefix of the function names"},
	{Env: "LOCALSTACK_KAFKA_BROKERS", Flag: "kafka-brokers", Default: stack.HostBrokers, Help: "Redpanda from this machine, to create the topics (KAFKA_AUTH etc. apply)"},
	{Env: "LOCALSTACK_DATABASE_URL", Flag: "database-url", Default: stack.HostDatabaseURL, Help: "Postgres from this machine, as a superuser: the functions' databases are created and migrated there"},
	{Env: "DATABASE_PREFIX", Flag: "database-prefix", Default: stack.DatabasePrefix, Help: "the functions' databases are <prefix>_api, <prefix>_scheduler, ..."},
	{Env: "FUNCTION_KAFKA_BROKERS", Flag: "function-kafka-brokers", Default: stack.InternalBrokers, Help: "KAFKA_BROKERS of the functions (Redpanda's listener inside the compose network)"},
	{Env: "FUNCTION_DATABASE_HOST", Flag: "function-database-host", Default: stack.InternalDatabaseHost, Help: "Postgres host:port in the functions' DATABASE_URL (user and password as in --database-url)"},
	{Env: "FUNCTION_MEMORY_MB", Flag: "memory", Default: "512", Help: "memory of each function, MB"},
	{Env: "FUNCTION_TIMEOUT_SECONDS", Flag: "timeout", Default: "60", Help: "timeout of each function but the worker, seconds (the scheduler's tick runs until shortly before it)"},
	{Env: "WORKER_TIMEOUT_SECONDS", Flag: "worker-timeout", Default: "840", Help: "timeout of the worker, seconds: at least 631, so that every attempt the API accepts (600 s of steps) can run, as in AWS"},
	{Env: "LOG_LEVEL", Flag: "log-level", Default: "info", Help: "LOG_LEVEL of the functions"},
	{Env: "LOCALSTACK_EDITION", Flag: "edition", Default: "auto", Help: "auto (pro if LOCALSTACK_AUTH_TOKEN is set, else community); pro makes the API Gateway HTTP API and Kafka event-source mappings, community leaves both to make localstack-bridge"},
	{Env: "ESM_BATCH_SIZE", Flag: "batch-size", Default: "100", Help: "records per invocation (event-source mappings of LocalStack Pro)"},
	{Env: "ESM_BATCH_WINDOW_SECONDS", Flag: "batch-window", Default: "0", Help: "MaximumBatchingWindowInSeconds (LocalStack Pro); 0 leaves Lambda's default (500 ms for Kafka)"},
	// Who may call the api, as in AWS where the stack sets them (there
	// API_AUTH is always keys,jwt); here API_AUTH stays configurable.
	{Env: "API_AUTH", Flag: "api-auth", Default: "none", Help: "API_AUTH of the api function: none, keys, jwt or keys,jwt (docs/security.md; AWS always runs keys,jwt)"},
	{Env: "API_ADMIN_KEY", Flag: "api-admin-key", Default: "", Help: "API_ADMIN_KEY of the api function: an admin key it stores at start (go run ./localstack/newkey); never printed"},
	{Env: "AUTH_JWT_ISSUER", Flag: "jwt-issuer", Default: "", Help: "AUTH_JWT_ISSUER of the api function (with API_AUTH jwt or keys,jwt)"},
	{Env: "AUTH_JWT_AUDIENCE", Flag: "jwt-audience", Default: "", Help: "AUTH_JWT_AUDIENCE of the api function: audiences or client IDs, comma-separated"},
	{Env: "AUTH_JWT_SCOPE_ROLES", Flag: "jwt-scope-roles", Default: "", Help: "AUTH_JWT_SCOPE_ROLES of the api function, e.g. jobweaver/read=viewer,jobweaver/write=operator as in AWS"},
}

// apiAuthEnv are the api function's variables the deploy passes on as
// given (API_AUTH always; the others when set).
var apiAuthEnv = []string{"API_AUTH", "API_ADMIN_KEY", "AUTH_JWT_ISSUER", "AUTH_JWT_AUDIENCE", "AUTH_JWT_SCOPE_ROLES"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stack.OSEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "print every call the deploy would make, and contact nothing")
	bound := stack.Bind(fs, vars)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprint(w, `Usage: make localstack-deploy   (DRY_RUN=1 for a dry run)
   or: go run ./localstack/deploy [--dry-run] [--flag=value ...]

Deploys JobWeaver to the LocalStack of make localstack-up: Kafka topics on
Redpanda; the functions' databases on Postgres, migrated; the four functions
from build/<function>.zip (make build); the EventBridge rule that ticks the
scheduler every minute; and, with LocalStack Pro (LOCALSTACK_AUTH_TOKEN set),
the API Gateway HTTP API (Lambda proxy, payload 2.0: ANY /api/{proxy+},
/health, /actuator/health) and self-managed Kafka event-source mappings.
LocalStack's community edition has neither; run make localstack-bridge next,
which stands in for both. Running the deploy again updates what exists.

  --dry-run
      print every call it would make, as on a fresh LocalStack, and contact nothing

Settings (each flag also reads its environment variable; the flag wins):
`)
		stack.PrintVars(w, vars)
	}
	if code, ok := stack.Parse(fs, args, stderr); !ok {
		return code
	}
	s, err := resolve(bound.Env(fs, getenv), getenv, *dryRun)
	s.HostArch = hostArch(goarch)
	if err != nil {
		fmt.Fprintf(stderr, "localstack-deploy: %v\n", err)
		return 2
	}
	var c *clients
	if s.DryRun {
		c = dryClients(s)
	} else {
		c, err = realClients(s)
		if err != nil {
			fmt.Fprintf(stderr, "localstack-deploy: %v\n", err)
			return 1
		}
		defer c.closeFn()
	}
	d := &deployer{s: s, c: c, out: stdout}
	if _, err := d.run(ctx); err != nil {
		fmt.Fprintf(stderr, "localstack-deploy: %s\n", strings.Join(strings.Fields(err.Error()), " "))
		return 1
	}
	return 0
}

// resolve reads the settings; the first bad one is an error naming it.
func resolve(env *config.Env, getenv func(string) (string, bool), dryRun bool) (settings, error) {
	s := settings{
		DryRun:               dryRun,
		Endpoint:             env.String("LOCALSTACK_ENDPOINT", ""),
		Region:               env.String("AWS_REGION", ""),
		BuildDir:             env.String("BUILD_DIR", ""),
		Prefix:               env.String("FUNCTION_PREFIX", ""),
		DatabaseURL:          env.String("LOCALSTACK_DATABASE_URL", ""),
		DatabasePrefix:       env.String("DATABASE_PREFIX", ""),
		FunctionBrokers:      env.String("FUNCTION_KAFKA_BROKERS", ""),
		FunctionDBHost:       env.String("FUNCTION_DATABASE_HOST", ""),
		MemoryMB:             env.Int("FUNCTION_MEMORY_MB", 512, 128, 10240),
		TimeoutSeconds:       env.Int("FUNCTION_TIMEOUT_SECONDS", 60, 1, 900),
		WorkerTimeoutSeconds: env.Int("WORKER_TIMEOUT_SECONDS", int(worker.DefaultTimeout/time.Second), 1, 900),
		LogLevel:             env.OneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		BatchSize:            env.Int("ESM_BATCH_SIZE", 100, 1, 10000),
		// Lambda allows 0 to 300 s.
		BatchWindowSeconds: env.Int("ESM_BATCH_WINDOW_SECONDS", 0, 0, 300),
		APIAuth:            map[string]string{},
	}
	for _, k := range apiAuthEnv {
		if v := strings.TrimSpace(env.String(k, "")); v != "" {
			s.APIAuth[k] = v
		}
	}
	s.APIAuth["API_AUTH"] = env.OneOf("API_AUTH", "none", "none", "keys", "jwt", "keys,jwt")
	edition := env.OneOf("LOCALSTACK_EDITION", "auto", "auto", editionCommunity, editionPro)
	// The host's Kafka client: LOCALSTACK_KAFKA_BROKERS, with KAFKA_AUTH
	// and its settings from the environment.
	kenv := &config.Env{Lookup: func(name string) (string, bool) {
		if name == "KAFKA_BROKERS" {
			return env.Lookup("LOCALSTACK_KAFKA_BROKERS")
		}
		return getenv(name)
	}}
	s.Kafka = kafka.ConfigFromEnv(kenv, "jobweaver-localstack-deploy")
	if err := env.Err(); err != nil {
		return s, err
	}
	if err := kenv.Err(); err != nil {
		return s, err
	}
	if err := worker.CheckTimeout("WORKER_TIMEOUT_SECONDS", time.Duration(s.WorkerTimeoutSeconds)*time.Second, worker.DefaultConfig()); err != nil {
		return s, err
	}
	token, _ := getenv("LOCALSTACK_AUTH_TOKEN")
	s.Pro = strings.TrimSpace(token) != ""
	s.Edition = edition
	if edition == "auto" {
		s.Edition = editionCommunity
		if s.Pro {
			s.Edition = editionPro
		}
	}
	return s, nil
}

// hostArch is Lambda's name for a Go architecture, or "" for one Lambda
// does not run.
func hostArch(goarch string) lambdatypes.Architecture {
	switch goarch {
	case "amd64":
		return lambdatypes.ArchitectureX8664
	case "arm64":
		return lambdatypes.ArchitectureArm64
	}
	return ""
}
