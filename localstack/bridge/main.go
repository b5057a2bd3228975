// Command bridge stands in for what LocalStack's community edition lacks:
// Kafka event-source mappings and API Gateway v2 (HTTP APIs).
//
// For each lifecycle topic it runs the local stack's
// consumer-group emulator (shared/esm) against Redpanda and invokes the
// function deployed on LocalStack through the Lambda Invoke API, with
// batches shaped as an MSK/self-managed Kafka event. As AWS does, offsets
// are committed only after an invocation succeeds, and a batch whose
// invocation fails (a function error, or a malformed or failed answer
// from Lambda) is retried whole, with backoff, until it succeeds. It also
// serves the API on LOCALSTACK_API_ADDR as an HTTP API would: each request
// becomes a payload-2.0 event for the api function, invoked the same way.
//
//	make localstack-bridge
//	go run ./localstack/bridge --help
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/localstack/stack"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/esm"
	"github.com/jobweaver/jobweaver/shared/flow"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafka"
)

var vars = []stack.Var{
	{Env: "LOCALSTACK_KAFKA_BROKERS", Flag: "brokers", Default: stack.HostBrokers, Help: "Kafka brokers to consume, from this machine (KAFKA_AUTH and its settings apply)"},
	{Env: "LOCALSTACK_ENDPOINT", Flag: "endpoint", Default: stack.Endpoint, Help: "Lambda Invoke API to call: LocalStack's gateway"},
	{Env: "AWS_REGION", Flag: "region", Default: stack.Region, Help: "region the functions are deployed in"},
	{Env: "FUNCTION_PREFIX", Flag: "function-prefix", Default: stack.FunctionPrefix, Help: "prefix of the deployed function names (as in make localstack-deploy)"},
	{Env: "SCHEDULER_FUNCTION_NAME", Flag: "scheduler-function", Shown: "<prefix>scheduler", Help: "deployed scheduler, fed " + fed(invoke.Scheduler)},
	{Env: "WORKER_FUNCTION_NAME", Flag: "worker-function", Shown: "<prefix>worker", Help: "deployed worker, fed " + fed(invoke.Worker)},
	{Env: "DLQ_FUNCTION_NAME", Flag: "dlq-function", Shown: "<prefix>dlq", Help: "deployed dlq, fed " + fed(invoke.DLQ)},
	{Env: "API_FUNCTION_NAME", Flag: "api-function", Shown: "<prefix>api", Help: "deployed api, behind the HTTP front"},
	{Env: "LOCALSTACK_API_ADDR", Flag: "http-addr", Default: stack.BridgeAPIAddr, Help: "where to serve the API, as API Gateway's HTTP API would (a LocalStack Pro feature); off: not at all"},
	{Env: "API_BODY_LIMIT_BYTES", Flag: "api-body-limit", Default: "262144", Help: "the api function's body limit; the front refuses (413) bodies it will not carry"},
	{Env: "ESM_BATCH_SIZE", Flag: "batch-size", Default: "100", Help: "records per invocation at most (BatchSize)"},
	{Env: "ESM_BATCH_WINDOW", Flag: "batch-window", Default: "500ms", Help: "how long to gather a batch that is not full (MaximumBatchingWindowInSeconds; 500 ms is Lambda's default for Kafka)"},
	{Env: "ESM_POLLERS", Flag: "pollers", Default: "2", Help: "consumers per mapping (each invokes one batch at a time)"},
	{Env: "ESM_RETRY_BACKOFF", Flag: "retry-backoff", Default: "200ms", Help: "first pause before a failed batch is retried; it doubles up to 5s"},
	{Env: "FUNCTION_TIMEOUT", Flag: "invoke-timeout", Default: "90s", Help: "deadline of each invocation; above the functions' timeout (60 s) plus a cold start"},
	{Env: "LOG_LEVEL", Flag: "log-level", Default: "info", Help: "debug (every batch), info (every invocation), warn (failures), error"},
}

// fed names the topics the flow table (shared/flow) feeds fn:
// "a, b and c".
func fed(fn string) string {
	topics := flow.Consumes(fn)
	if len(topics) < 2 {
		return strings.Join(topics, "")
	}
	return strings.Join(topics[:len(topics)-1], ", ") + " and " + topics[len(topics)-1]
}

// kafkaTimeout bounds the check that the brokers answer, at start.
var kafkaTimeout = 15 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stack.OSEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the bridge's, resolved from flags and the environment.
type bridgeConfig struct {
	Kafka         kafka.Config
	Endpoint      string
	Region        string
	Functions     map[string]string // platform name -> deployed name
	BatchSize     int
	Window        time.Duration
	Pollers       int
	RetryBackoff  time.Duration
	InvokeTimeout time.Duration
	LogLevel      slog.Level
	HTTPAddr      string // "" for no HTTP front
	APIBodyLimit  int64
}

func run(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	force := fs.Bool("force", false, "run even though LOCALSTACK_AUTH_TOKEN is set (LocalStack Pro has event-source mappings of its own)")
	bound := stack.Bind(fs, vars)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprint(w, `Usage: make localstack-bridge
   or: go run ./localstack/bridge [--flag=value ...]

Stands in for what LocalStack's community edition lacks, for the JobWeaver
functions deployed on it (make localstack-deploy): Kafka event-source mappings
and API Gateway v2. One mapping per topic, each a consumer group
(jobweaver-<function>-<topic>) invoking its function synchronously through
the Lambda Invoke API with batches shaped as a Kafka event. Offsets
are committed only after an invocation succeeds; a failed one (a function
error, a timeout, or a malformed or failed answer from Lambda) is logged and
the same batch retried with backoff. Ctrl-C stops it; what was not committed
is delivered again at the next start. The API is served on LOCALSTACK_API_ADDR:
each request goes to the api function as the payload-2.0 event an API Gateway
HTTP API would send, through the same Invoke API.

  --force
      run although LOCALSTACK_AUTH_TOKEN is set

Settings (each flag also reads its environment variable; the flag wins):
`)
		stack.PrintVars(w, vars)
	}
	if code, ok := stack.Parse(fs, args, stderr); !ok {
		return code
	}
	if tok, _ := getenv("LOCALSTACK_AUTH_TOKEN"); strings.TrimSpace(tok) != "" && !*force {
		fmt.Fprintln(stderr, "localstack-bridge: LOCALSTACK_AUTH_TOKEN is set, so make localstack-deploy made LocalStack Pro's own API Gateway "+
			"HTTP API and Kafka event-source mappings (in the same consumer groups); run the bridge only if you deployed with --edition=community (then add --force)")
		return 2
	}
	cfg, err := resolve(bound.Env(fs, getenv), getenv)
	if err != nil {
		fmt.Fprintf(stderr, "localstack-bridge: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

	opts, err := cfg.Kafka.Opts()
	if err != nil {
		fmt.Fprintf(stderr, "localstack-bridge: %v\n", err)
		return 2
	}
	if err := ping(ctx, cfg.Kafka.Brokers, opts); err != nil {
		fmt.Fprintf(stderr, "localstack-bridge: %v\n", err)
		return 1
	}

	inv := &loggingInvoker{
		inner: &invoke.Lambda{Client: newLambdaClient(cfg.Endpoint, cfg.Region), Functions: cfg.Functions},
		names: cfg.Functions,
		log:   log,
	}
	ms := mappings(cfg, inv, opts, log)

	// The HTTP front: API Gateway's part, which LocalStack community lacks.
	var srv *http.Server
	apiURL := ""
	if cfg.HTTPAddr != "" {
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			fmt.Fprintf(stderr, "localstack-bridge: LOCALSTACK_API_ADDR: %v\n", err)
			return 1
		}
		apiURL = "http://" + ln.Addr().String()
		srv = &http.Server{
			Handler: &devstack.Front{
				Invoker: inv, Function: invoke.API, Namespace: "API",
				BodyLimit: cfg.APIBodyLimit, Timeout: cfg.InvokeTimeout, Log: log,
			},
			ReadHeaderTimeout: 10 * time.Second,
		}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("HTTP front stopped", "error", err.Error())
			}
		}()
	}
	printSummary(stdout, cfg, ms, apiURL)

	var wg sync.WaitGroup
	errs := make([]error, len(ms))
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.Run(ctx)
		}()
	}
	wg.Wait()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "localstack-bridge: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "bridge stopped; offsets of the batches that succeeded are committed.")
	return 0
}

func resolve(env *config.Env, getenv func(string) (string, bool)) (bridgeConfig, error) {
	prefix := env.String("FUNCTION_PREFIX", stack.FunctionPrefix)
	cfg := bridgeConfig{
		Endpoint: env.String("LOCALSTACK_ENDPOINT", stack.Endpoint),
		Region:   env.String("AWS_REGION", stack.Region),
		Functions: map[string]string{
			invoke.Scheduler: env.String("SCHEDULER_FUNCTION_NAME", stack.FunctionName(prefix, invoke.Scheduler)),
			invoke.Worker:    env.String("WORKER_FUNCTION_NAME", stack.FunctionName(prefix, invoke.Worker)),
			invoke.DLQ:       env.String("DLQ_FUNCTION_NAME", stack.FunctionName(prefix, invoke.DLQ)),
			invoke.API:       env.String("API_FUNCTION_NAME", stack.FunctionName(prefix, invoke.API)),
		},
		HTTPAddr:      env.String("LOCALSTACK_API_ADDR", stack.BridgeAPIAddr),
		APIBodyLimit:  int64(env.Int("API_BODY_LIMIT_BYTES", 262144, 1024, 6*1024*1024)),
		BatchSize:     env.Int("ESM_BATCH_SIZE", 100, 1, 10000),
		Window:        env.Duration("ESM_BATCH_WINDOW", 500*time.Millisecond, 0, 300*time.Second),
		Pollers:       env.Int("ESM_POLLERS", 2, 1, 64),
		RetryBackoff:  env.Duration("ESM_RETRY_BACKOFF", 200*time.Millisecond, time.Millisecond, time.Minute),
		InvokeTimeout: env.Duration("FUNCTION_TIMEOUT", 90*time.Second, time.Second, 15*time.Minute),
	}
	if strings.EqualFold(cfg.HTTPAddr, "off") {
		cfg.HTTPAddr = ""
	}
	switch env.OneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error") {
	case "debug":
		cfg.LogLevel = slog.LevelDebug
	case "warn":
		cfg.LogLevel = slog.LevelWarn
	case "error":
		cfg.LogLevel = slog.LevelError
	}
	// The brokers' client: LOCALSTACK_KAFKA_BROKERS (not KAFKA_BROKERS, which
	// may name make run's), with KAFKA_AUTH and its settings.
	kenv := &config.Env{Lookup: func(name string) (string, bool) {
		if name == "KAFKA_BROKERS" {
			return env.Lookup("LOCALSTACK_KAFKA_BROKERS")
		}
		return getenv(name)
	}}
	cfg.Kafka = kafka.ConfigFromEnv(kenv, "jobweaver-localstack-bridge")
	if err := env.Err(); err != nil {
		return cfg, err
	}
	return cfg, kenv.Err()
}

// mappings are the event-source mappings: stack.Routes with cfg's
// batching, invoking inv.
func mappings(cfg bridgeConfig, inv invoke.Invoker, opts []kgo.Opt, log *slog.Logger) []*esm.Mapping {
	var ms []*esm.Mapping
	for _, r := range stack.Routes {
		ms = append(ms, &esm.Mapping{
			Name:            r.Topic + "->" + cfg.Functions[r.Function],
			Topics:          []string{r.Topic},
			Group:           r.Group,
			Function:        r.Function,
			BatchSize:       cfg.BatchSize,
			Window:          cfg.Window,
			Pollers:         cfg.Pollers,
			Brokers:         cfg.Kafka.Brokers,
			Invoker:         inv,
			Log:             log,
			RetryBackoff:    cfg.RetryBackoff,
			FunctionTimeout: cfg.InvokeTimeout,
			SourceARN:       esm.LocalClusterARN,
			ClientOpts:      opts,
		})
	}
	return ms
}

func printSummary(w io.Writer, cfg bridgeConfig, ms []*esm.Mapping, apiURL string) {
	fmt.Fprintf(w, "JobWeaver bridge: Kafka %s, auth %s; Lambda %s, region %s\n",
		strings.Join(cfg.Kafka.Brokers, ","), cfg.Kafka.Describe(), cfg.Endpoint, cfg.Region)
	if apiURL != "" {
		fmt.Fprintf(w, "  API %s -> %s (payload format 2.0, as an API Gateway HTTP API)\n", apiURL, cfg.Functions[invoke.API])
	}
	for _, m := range ms {
		fmt.Fprintf(w, "  %-16s -> %-22s group %s\n", m.Topics[0], cfg.Functions[m.Function], m.Group)
	}
	fmt.Fprintf(w, "  batch %d, window %s, %d pollers per mapping, invocation timeout %s, retry backoff %s doubling to 5s\n",
		cfg.BatchSize, cfg.Window, cfg.Pollers, cfg.InvokeTimeout, cfg.RetryBackoff)
	fmt.Fprintln(w, "Offsets are committed only after a batch's invocation succeeds. Ctrl-C stops.")
	if apiURL != "" {
		fmt.Fprintf(w, "Try: curl -s %s/health\n", apiURL)
	}
}

// ping checks that the brokers answer, so that a stack that is not up is
// one line at start rather than a stream of poll warnings.
func ping(ctx context.Context, brokers []string, opts []kgo.Opt) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, kafkaTimeout)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		return fmt.Errorf("Kafka at %s does not answer (is the stack up? make localstack-up): %v", strings.Join(brokers, ","), err)
	}
	return nil
}

// newLambdaClient is a Lambda client for endpoint with LocalStack's test
// credentials and no retries of its own: a failed invocation fails the
// batch, which the mapping logs and retries whole, as AWS does.
func newLambdaClient(endpoint, region string) invoke.LambdaClient {
	return checkedClient{awslambda.New(awslambda.Options{
		BaseEndpoint:     aws.String(endpoint),
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
	})}
}

// checkedClient names what went wrong with an invocation: the endpoint
// failed or refused the call, or it answered success with a payload that
// is not JSON (a handler's result always is). Function errors are told by
// invoke.Lambda.
type checkedClient struct{ inner invoke.LambdaClient }

func (c checkedClient) Invoke(ctx context.Context, in *awslambda.InvokeInput, opts ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error) {
	out, err := c.inner.Invoke(ctx, in, opts...)
	if err != nil {
		return nil, fmt.Errorf("the Lambda endpoint failed the call: %w", err)
	}
	if out.FunctionError == nil {
		if p := bytes.TrimSpace(out.Payload); len(p) > 0 && !json.Valid(p) {
			if len(p) > 200 {
				p = append(slices.Clip(p[:200]), "..."...)
			}
			return nil, fmt.Errorf("malformed response from Lambda (status %d, payload is not JSON): %q", out.StatusCode, p)
		}
	}
	return out, nil
}

// loggingInvoker logs every successful invocation at info; failures are
// logged by the mapping, which retries them.
type loggingInvoker struct {
	inner invoke.Invoker
	names map[string]string
	log   *slog.Logger
}

func (l *loggingInvoker) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	start := time.Now()
	out, err := l.inner.Invoke(ctx, function, payload)
	if err == nil {
		l.log.Info("invoked", "function", l.names[function], "eventBytes", len(payload), "ms", time.Since(start).Milliseconds())
	}
	return out, err
}
