package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	apitypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	eventtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/jobweaver/jobweaver/localstack/stack"
	"github.com/jobweaver/jobweaver/shared/api"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/scheduler"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// LocalStack editions, as far as the deploy is concerned.
const (
	// editionCommunity has no Kafka event-source mappings and no API
	// Gateway v2: the bridge (localstack/bridge) stands in for both.
	editionCommunity = "community"
	// editionPro has both: the deploy makes an HTTP API and self-managed
	// Kafka event-source mappings.
	editionPro = "pro"
)

// settings are the deploy's, resolved from flags and the environment.
type settings struct {
	DryRun   bool
	Endpoint string // LocalStack from the host
	Region   string
	BuildDir string
	Prefix   string // function name prefix

	Kafka          kafka.Config // Redpanda from the host: the topics
	DatabaseURL    string       // Postgres from the host, as its superuser: databases, migrations
	DatabasePrefix string       // the functions' databases are <prefix>_<function>

	FunctionBrokers string // KAFKA_BROKERS the functions get
	FunctionDBHost  string // host:port of Postgres the functions' DATABASE_URL names
	MemoryMB        int
	TimeoutSeconds  int // every function but the worker
	// WorkerTimeoutSeconds is the worker's timeout: long enough for every
	// step the api accepts (worker.MinTimeout), as in AWS.
	WorkerTimeoutSeconds int
	LogLevel             string

	BatchSize          int
	BatchWindowSeconds int // 0: not set (Lambda's default, 500 ms, for Kafka sources)

	// APIAuth are the api function's API_AUTH (always) and AUTH_JWT_*,
	// API_ADMIN_KEY (when set), passed on as given.
	APIAuth map[string]string

	Edition string // editionCommunity or editionPro
	Pro     bool   // LOCALSTACK_AUTH_TOKEN is set

	// HostArch is this machine's architecture as Lambda names it (x86_64,
	// arm64); LocalStack runs a function of another one under emulation.
	HostArch lambdatypes.Architecture
}

// migrations are each function's embedded migrations.
var migrations = map[string]func() fs.FS{
	invoke.API:       api.Migrations,
	invoke.Scheduler: scheduler.Migrations,
	invoke.Worker:    worker.Migrations,
	invoke.DLQ:       dlq.Migrations,
}

// Routes of the HTTP API, all to the api function.
var apiRoutes = []string{"ANY /api/{proxy+}", "ANY /health", "ANY /actuator/health"}

const (
	apiPermissionID    = "jobweaver-apigateway-invoke"
	eventsPermissionID = "jobweaver-events-tick"
	tickTargetID       = "scheduler"
	waitTimeout        = 3 * time.Minute
	// bridgeAPI is where make localstack-bridge serves the API.
	bridgeAPI = "http://" + stack.BridgeAPIAddr
)

type deployer struct {
	s   settings
	c   *clients
	out io.Writer
}

func (d *deployer) note(format string, args ...any) {
	fmt.Fprintf(d.out, "# "+format+"\n", args...)
}

func (d *deployer) show(svc, op string, in any, overrides map[string]string) {
	fmt.Fprintf(d.out, "%s %s %s\n", svc, op, render(in, overrides))
}

// call prints the call, then makes it.
func call[I, O, P any](ctx context.Context, d *deployer, svc, op string, in I, f func(context.Context, I, ...P) (O, error)) (O, error) {
	return callShown(ctx, d, svc, op, in, nil, f)
}

func callShown[I, O, P any](ctx context.Context, d *deployer, svc, op string, in I, overrides map[string]string, f func(context.Context, I, ...P) (O, error)) (O, error) {
	d.show(svc, op, in, overrides)
	out, err := f(ctx, in)
	if err != nil {
		var zero O
		return zero, fmt.Errorf("%s %s: %w", svc, op, err)
	}
	return out, nil
}

// result is what the deploy made, for its closing lines.
type result struct {
	APIEndpoint string
	FunctionARN map[string]string
}

func (d *deployer) run(ctx context.Context) (result, error) {
	s := d.s
	res := result{FunctionARN: map[string]string{}}
	d.note("Deploying JobWeaver to LocalStack at %s (region %s).", s.Endpoint, s.Region)
	if s.DryRun {
		d.note("Dry run: nothing is contacted. Every call is printed as it would be made; lookups")
		d.note("find nothing and created resources get placeholder IDs, as on a fresh LocalStack.")
	}
	switch {
	case s.Edition == editionPro && s.Pro:
		d.note("LocalStack Pro (LOCALSTACK_AUTH_TOKEN is set): an API Gateway HTTP API and Kafka event-source mappings.")
	case s.Edition == editionPro:
		d.note("LocalStack Pro (--edition=pro): an API Gateway HTTP API and Kafka event-source mappings.")
	default:
		d.note("LocalStack community edition: it has neither Kafka event-source mappings nor API Gateway v2")
		d.note("(HTTP APIs); make localstack-bridge stands in for both. LOCALSTACK_AUTH_TOKEN selects Pro.")
	}
	// Check every function's package first, so that nothing is half done.
	bundles := map[string]bundle{}
	for _, fn := range stack.Functions {
		b, err := readBundle(filepath.Join(s.BuildDir, fn+".zip"), s.DryRun)
		if err != nil {
			return res, err
		}
		bundles[fn] = b
	}
	for _, fn := range stack.Functions {
		if b := bundles[fn]; b.Found && s.HostArch != "" && b.Arch != s.HostArch {
			d.note("Warning: the functions are built for %s and this machine is %s: LocalStack runs them under", b.Arch, s.HostArch)
			d.note("emulation (Docker needs QEMU binfmt handlers). For native speed: make build ARCH=%s", s.HostArch)
			break
		}
	}

	d.show("localstack", "GetHealth", map[string]string{"URL": strings.TrimSuffix(s.Endpoint, "/") + "/_localstack/health"}, nil)
	edition, err := d.c.Infra.Health(ctx)
	if err != nil {
		return res, err
	}
	if s.Edition == editionPro && edition == editionCommunity {
		return res, errors.New("LocalStack at " + s.Endpoint + " is the community edition, which has neither API Gateway v2 nor Kafka event-source mappings: " +
			"start LocalStack Pro with LOCALSTACK_AUTH_TOKEN set (make localstack-down localstack-up), or deploy with --edition=community and run make localstack-bridge")
	}

	if err := d.topics(ctx); err != nil {
		return res, err
	}
	if err := d.databases(ctx); err != nil {
		return res, err
	}
	for _, fn := range stack.Functions {
		arn, err := d.function(ctx, fn, bundles[fn])
		if err != nil {
			return res, err
		}
		res.FunctionARN[fn] = arn
	}
	if s.Edition == editionPro {
		endpoint, err := d.httpAPI(ctx, res.FunctionARN[invoke.API])
		if err != nil {
			return res, err
		}
		res.APIEndpoint = endpoint
	} else {
		d.note("API Gateway: none (a Pro feature); make localstack-bridge serves the API on %s instead,", bridgeAPI)
		d.note("turning each request into the payload-2.0 event an HTTP API would send to %s.", stack.FunctionName(s.Prefix, invoke.API))
	}
	if err := d.schedule(ctx, res.FunctionARN[invoke.Scheduler]); err != nil {
		return res, err
	}
	if s.Edition == editionPro {
		if err := d.eventSourceMappings(ctx); err != nil {
			return res, err
		}
	}
	d.closing(res)
	return res, nil
}

func (d *deployer) topics(ctx context.Context) error {
	topics := map[string]int32{}
	for _, t := range kafka.Topics {
		topics[t.Name] = t.Partitions
	}
	d.show("kafka", "CreateTopics", map[string]any{"Brokers": strings.Join(d.s.Kafka.Brokers, ","), "Topics": topics}, nil)
	if err := d.c.Infra.CreateTopics(ctx, kafka.Topics); err != nil {
		return fmt.Errorf("kafka CreateTopics: %w", err)
	}
	return nil
}

func (d *deployer) databases(ctx context.Context) error {
	server := pgdb.Redact(d.s.DatabaseURL)
	for _, fn := range stack.Functions {
		name := stack.Database(d.s.DatabasePrefix, fn)
		d.show("postgres", "CreateDatabase", map[string]string{"Database": name, "Server": server}, nil)
		if err := d.c.Infra.CreateDatabase(ctx, name); err != nil {
			return fmt.Errorf("postgres CreateDatabase %s: %w (is Postgres up? make localstack-up)", name, err)
		}
		d.show("postgres", "Migrate", map[string]string{"Database": name, "Migrations": "shared/" + fn + "/migrations"}, nil)
		if err := d.c.Infra.Migrate(ctx, name, migrations[fn]()); err != nil {
			return fmt.Errorf("postgres Migrate %s: %w", name, err)
		}
	}
	return nil
}

// functionEnv is a function's environment: its own database on the
// compose Postgres, Redpanda's internal listener, and for the api and the
// worker the names of the functions they invoke.
func (d *deployer) functionEnv(fn string) (map[string]string, error) {
	u, err := url.Parse(d.s.DatabaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("LOCALSTACK_DATABASE_URL must be a postgres:// URL (got %q)", pgdb.Redact(d.s.DatabaseURL))
	}
	u.Host = d.s.FunctionDBHost
	u.Path = "/" + stack.Database(d.s.DatabasePrefix, fn)
	env := map[string]string{
		"DATABASE_URL":  u.String(),
		"KAFKA_BROKERS": d.s.FunctionBrokers,
		"DB_MIGRATE":    "false", // the deploy migrated
		"LOG_LEVEL":     d.s.LogLevel,
	}
	if fn == invoke.API {
		env["SCHEDULER_FUNCTION_NAME"] = stack.FunctionName(d.s.Prefix, invoke.Scheduler)
		env["WORKER_FUNCTION_NAME"] = stack.FunctionName(d.s.Prefix, invoke.Worker)
		env["DLQ_FUNCTION_NAME"] = stack.FunctionName(d.s.Prefix, invoke.DLQ)
		// GET /api/system reads the mappings' lag from Redpanda (kadm):
		// LocalStack's mappings publish no CloudWatch OffsetLag.
		env["LAG_SOURCE"] = "kafka"
		env["KAFKA_GROUP_PREFIX"] = stack.GroupPrefix
		maps.Copy(env, d.s.APIAuth)
	}
	if fn == invoke.Worker || fn == invoke.DLQ { // attempts start, and entries are retried, through the scheduler
		env["SCHEDULER_FUNCTION_NAME"] = stack.FunctionName(d.s.Prefix, invoke.Scheduler)
	}
	if fn == invoke.Scheduler { // the tick calls the dlq's maintenance
		env["DLQ_FUNCTION_NAME"] = stack.FunctionName(d.s.Prefix, invoke.DLQ)
	}
	return env, nil
}

// timeoutOf is fn's timeout in seconds.
func (s settings) timeoutOf(fn string) int {
	if fn == invoke.Worker && s.WorkerTimeoutSeconds > 0 {
		return s.WorkerTimeoutSeconds
	}
	return s.TimeoutSeconds
}

// function creates fn, or updates its code and configuration if it
// exists, waits until it can be invoked, and returns its ARN.
func (d *deployer) function(ctx context.Context, fn string, b bundle) (string, error) {
	name := stack.FunctionName(d.s.Prefix, fn)
	vars, err := d.functionEnv(fn)
	if err != nil {
		return "", err
	}
	if b.Found {
		d.note("%s: bootstrap for %s", b.Path, b.Arch)
	} else {
		d.note("%s: not built yet (make build); its architecture is taken to be %s", b.Path, b.Arch)
	}
	zipOverride := map[string]string{"Code.ZipFile": "fileb://" + b.Path, "ZipFile": "fileb://" + b.Path}
	get, err := call(ctx, d, "lambda", "GetFunction", &lambda.GetFunctionInput{FunctionName: aws.String(name)}, d.c.Lambda.GetFunction)
	var notFound *lambdatypes.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		out, err := callShown(ctx, d, "lambda", "CreateFunction", &lambda.CreateFunctionInput{
			FunctionName:  aws.String(name),
			Description:   aws.String("JobWeaver " + fn),
			Runtime:       lambdatypes.RuntimeProvidedal2023,
			Handler:       aws.String("bootstrap"),
			Architectures: []lambdatypes.Architecture{b.Arch},
			Role:          aws.String(stack.Role),
			Code:          &lambdatypes.FunctionCode{ZipFile: b.Zip},
			MemorySize:    aws.Int32(int32(d.s.MemoryMB)),
			Timeout:       aws.Int32(int32(d.s.timeoutOf(fn))),
			Environment:   &lambdatypes.Environment{Variables: vars},
		}, zipOverride, d.c.Lambda.CreateFunction)
		if err != nil {
			return "", err
		}
		if err := d.wait(ctx, "WaitFunctionActiveV2", name, func(ctx context.Context, in *lambda.GetFunctionInput) error {
			return lambda.NewFunctionActiveV2Waiter(d.c.Lambda).Wait(ctx, in, waitTimeout)
		}); err != nil {
			return "", err
		}
		return aws.ToString(out.FunctionArn), nil
	case err != nil:
		return "", err
	}
	arn := ""
	if get.Configuration != nil {
		arn = aws.ToString(get.Configuration.FunctionArn)
	}
	waitUpdated := func(ctx context.Context, in *lambda.GetFunctionInput) error {
		return lambda.NewFunctionUpdatedV2Waiter(d.c.Lambda).Wait(ctx, in, waitTimeout)
	}
	if _, err := callShown(ctx, d, "lambda", "UpdateFunctionCode", &lambda.UpdateFunctionCodeInput{
		FunctionName:  aws.String(name),
		ZipFile:       b.Zip,
		Architectures: []lambdatypes.Architecture{b.Arch},
	}, zipOverride, d.c.Lambda.UpdateFunctionCode); err != nil {
		return "", err
	}
	if err := d.wait(ctx, "WaitFunctionUpdatedV2", name, waitUpdated); err != nil {
		return "", err
	}
	out, err := call(ctx, d, "lambda", "UpdateFunctionConfiguration", &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name),
		Runtime:      lambdatypes.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Role:         aws.String(stack.Role),
		MemorySize:   aws.Int32(int32(d.s.MemoryMB)),
		Timeout:      aws.Int32(int32(d.s.timeoutOf(fn))),
		Environment:  &lambdatypes.Environment{Variables: vars},
	}, d.c.Lambda.UpdateFunctionConfiguration)
	if err != nil {
		return "", err
	}
	if err := d.wait(ctx, "WaitFunctionUpdatedV2", name, waitUpdated); err != nil {
		return "", err
	}
	if a := aws.ToString(out.FunctionArn); a != "" {
		arn = a
	}
	return arn, nil
}

// wait prints a waiter and, unless this is a dry run, runs it.
func (d *deployer) wait(ctx context.Context, op, name string, f func(context.Context, *lambda.GetFunctionInput) error) error {
	in := &lambda.GetFunctionInput{FunctionName: aws.String(name)}
	d.show("lambda", op, in, nil)
	if d.s.DryRun {
		return nil
	}
	if err := f(ctx, in); err != nil {
		return fmt.Errorf("lambda %s %s: %w", op, name, err)
	}
	return nil
}

// httpAPI makes the HTTP API with a Lambda proxy integration (payload
// format 2.0) to the api function, its routes and its auto-deployed
// $default stage, lets API Gateway invoke the function, and returns the
// API's endpoint.
func (d *deployer) httpAPI(ctx context.Context, apiARN string) (string, error) {
	var apiID, endpoint string
	var next *string
	for {
		out, err := call(ctx, d, "apigatewayv2", "GetApis", &apigatewayv2.GetApisInput{NextToken: next}, d.c.APIGW.GetApis)
		if err != nil {
			return "", err
		}
		for _, a := range out.Items {
			if aws.ToString(a.Name) == d.apiName() && apiID == "" {
				apiID, endpoint = aws.ToString(a.ApiId), aws.ToString(a.ApiEndpoint)
			}
		}
		if next = out.NextToken; next == nil || apiID != "" {
			break
		}
	}
	if apiID == "" {
		out, err := call(ctx, d, "apigatewayv2", "CreateApi", &apigatewayv2.CreateApiInput{
			Name:         aws.String(d.apiName()),
			ProtocolType: apitypes.ProtocolTypeHttp,
		}, d.c.APIGW.CreateApi)
		if err != nil {
			return "", err
		}
		apiID, endpoint = aws.ToString(out.ApiId), aws.ToString(out.ApiEndpoint)
	} else {
		d.note("HTTP API %s exists: %s", d.apiName(), apiID)
	}
	if endpoint == "" {
		port := "4566"
		if u, err := url.Parse(d.s.Endpoint); err == nil && u.Port() != "" {
			port = u.Port()
		}
		endpoint = "http://" + apiID + ".execute-api.localhost.localstack.cloud:" + port
	}

	ints, err := call(ctx, d, "apigatewayv2", "GetIntegrations", &apigatewayv2.GetIntegrationsInput{ApiId: aws.String(apiID)}, d.c.APIGW.GetIntegrations)
	if err != nil {
		return "", err
	}
	integrationID := ""
	for _, in := range ints.Items {
		if aws.ToString(in.IntegrationUri) == apiARN {
			integrationID = aws.ToString(in.IntegrationId)
		}
	}
	if integrationID == "" {
		out, err := call(ctx, d, "apigatewayv2", "CreateIntegration", &apigatewayv2.CreateIntegrationInput{
			ApiId:                aws.String(apiID),
			IntegrationType:      apitypes.IntegrationTypeAwsProxy,
			IntegrationUri:       aws.String(apiARN),
			PayloadFormatVersion: aws.String("2.0"),
			TimeoutInMillis:      aws.Int32(30000),
		}, d.c.APIGW.CreateIntegration)
		if err != nil {
			return "", err
		}
		integrationID = aws.ToString(out.IntegrationId)
	}

	routes, err := call(ctx, d, "apigatewayv2", "GetRoutes", &apigatewayv2.GetRoutesInput{ApiId: aws.String(apiID)}, d.c.APIGW.GetRoutes)
	if err != nil {
		return "", err
	}
	have := map[string]bool{}
	for _, r := range routes.Items {
		have[aws.ToString(r.RouteKey)] = true
	}
	for _, key := range apiRoutes {
		if have[key] {
			continue
		}
		if _, err := call(ctx, d, "apigatewayv2", "CreateRoute", &apigatewayv2.CreateRouteInput{
			ApiId:    aws.String(apiID),
			RouteKey: aws.String(key),
			Target:   aws.String("integrations/" + integrationID),
		}, d.c.APIGW.CreateRoute); err != nil {
			return "", err
		}
	}

	stages, err := call(ctx, d, "apigatewayv2", "GetStages", &apigatewayv2.GetStagesInput{ApiId: aws.String(apiID)}, d.c.APIGW.GetStages)
	if err != nil {
		return "", err
	}
	if !slices.ContainsFunc(stages.Items, func(s apitypes.Stage) bool { return aws.ToString(s.StageName) == "$default" }) {
		if _, err := call(ctx, d, "apigatewayv2", "CreateStage", &apigatewayv2.CreateStageInput{
			ApiId:      aws.String(apiID),
			StageName:  aws.String("$default"),
			AutoDeploy: aws.Bool(true),
		}, d.c.APIGW.CreateStage); err != nil {
			return "", err
		}
	}

	err = d.permission(ctx, &lambda.AddPermissionInput{
		FunctionName: aws.String(stack.FunctionName(d.s.Prefix, invoke.API)),
		StatementId:  aws.String(apiPermissionID),
		Action:       aws.String("lambda:InvokeFunction"),
		Principal:    aws.String("apigateway.amazonaws.com"),
		SourceArn:    aws.String("arn:aws:execute-api:" + d.s.Region + ":" + stack.AccountID + ":" + apiID + "/*/*"),
	})
	return endpoint, err
}

// permission adds a statement to a function's resource policy; one that
// is there already (from an earlier deploy) is fine.
func (d *deployer) permission(ctx context.Context, in *lambda.AddPermissionInput) error {
	_, err := call(ctx, d, "lambda", "AddPermission", in, d.c.Lambda.AddPermission)
	var conflict *lambdatypes.ResourceConflictException
	if errors.As(err, &conflict) {
		d.note("permission %s is there already", aws.ToString(in.StatementId))
		return nil
	}
	return err
}

// schedule makes the EventBridge rule that runs the scheduler's tick.
func (d *deployer) schedule(ctx context.Context, schedulerARN string) error {
	rule, err := call(ctx, d, "events", "PutRule", &eventbridge.PutRuleInput{
		Name:               aws.String(d.tickRule()),
		ScheduleExpression: aws.String(stack.TickSchedule),
		State:              eventtypes.RuleStateEnabled,
		Description:        aws.String("JobWeaver scheduler tick: rescue, dispatch due jobs, relay the outbox"),
	}, d.c.Events.PutRule)
	if err != nil {
		return err
	}
	if err := d.permission(ctx, &lambda.AddPermissionInput{
		FunctionName: aws.String(stack.FunctionName(d.s.Prefix, invoke.Scheduler)),
		StatementId:  aws.String(eventsPermissionID),
		Action:       aws.String("lambda:InvokeFunction"),
		Principal:    aws.String("events.amazonaws.com"),
		SourceArn:    rule.RuleArn,
	}); err != nil {
		return err
	}
	out, err := call(ctx, d, "events", "PutTargets", &eventbridge.PutTargetsInput{
		Rule:    aws.String(d.tickRule()),
		Targets: []eventtypes.Target{{Id: aws.String(tickTargetID), Arn: aws.String(schedulerARN)}},
	}, d.c.Events.PutTargets)
	if err != nil {
		return err
	}
	if out.FailedEntryCount > 0 {
		msg := ""
		if len(out.FailedEntries) > 0 {
			msg = aws.ToString(out.FailedEntries[0].ErrorMessage)
		}
		return fmt.Errorf("events PutTargets: %d failed: %s", out.FailedEntryCount, msg)
	}
	return nil
}

// eventSourceMappings creates LocalStack Pro's self-managed Kafka
// mappings, one per route, that do not exist yet.
func (d *deployer) eventSourceMappings(ctx context.Context) error {
	existing := map[string]map[string]bool{} // function -> topics
	for _, r := range stack.Routes {
		name := stack.FunctionName(d.s.Prefix, r.Function)
		if existing[name] == nil {
			existing[name] = map[string]bool{}
			out, err := call(ctx, d, "lambda", "ListEventSourceMappings", &lambda.ListEventSourceMappingsInput{FunctionName: aws.String(name)}, d.c.Lambda.ListEventSourceMappings)
			if err != nil {
				return err
			}
			for _, m := range out.EventSourceMappings {
				for _, t := range m.Topics {
					existing[name][t] = true
				}
			}
		}
		if existing[name][r.Topic] {
			d.note("event-source mapping %s -> %s exists", r.Topic, name)
			continue
		}
		in := &lambda.CreateEventSourceMappingInput{
			FunctionName:     aws.String(name),
			Topics:           []string{r.Topic},
			StartingPosition: lambdatypes.EventSourcePositionTrimHorizon,
			BatchSize:        aws.Int32(int32(d.s.BatchSize)),
			SelfManagedEventSource: &lambdatypes.SelfManagedEventSource{
				Endpoints: map[string][]string{string(lambdatypes.EndPointTypeKafkaBootstrapServers): strings.Split(d.s.FunctionBrokers, ",")},
			},
			SelfManagedKafkaEventSourceConfig: &lambdatypes.SelfManagedKafkaEventSourceConfig{ConsumerGroupId: aws.String(r.Group)},
		}
		if d.s.BatchWindowSeconds > 0 {
			in.MaximumBatchingWindowInSeconds = aws.Int32(int32(d.s.BatchWindowSeconds))
		}
		if _, err := call(ctx, d, "lambda", "CreateEventSourceMapping", in, d.c.Lambda.CreateEventSourceMapping); err != nil {
			return err
		}
	}
	return nil
}

func (d *deployer) closing(res result) {
	if d.s.DryRun {
		d.note("Dry run done: nothing was contacted or changed.")
	} else {
		d.note("Deployed.")
	}
	d.note("The scheduler ticks every minute (EventBridge rule %s).", d.tickRule())
	if d.s.Edition == editionPro {
		d.note("API: %s", res.APIEndpoint)
		d.note("  curl -s %s/health", res.APIEndpoint)
		d.note("Kafka reaches the functions through LocalStack's event-source mappings.")
	} else {
		d.note("Next, in another terminal: make localstack-bridge. Until it runs, the functions get no Kafka")
		d.note("records and the API has no front. Then:")
		d.note("  curl -s %s/health", bridgeAPI)
	}
}

// apiName and tickRule follow the function prefix: jobweaver and
// jobweaver-scheduler-tick by default.
func (d *deployer) apiName() string {
	if n := strings.TrimRight(d.s.Prefix, "-_"); n != "" {
		return n
	}
	return stack.APIName
}

func (d *deployer) tickRule() string {
	return stack.FunctionName(d.s.Prefix, invoke.Scheduler) + "-tick"
}
