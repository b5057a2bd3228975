package main

import (
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/jobweaver/jobweaver/shared/flow"
)

// GoFunction is one of JobWeaver's Go functions: build/<name>/bootstrap on
// provided.al2023, in the private subnets, with its own role (CDK makes
// one per function; grants add to it) and log group.
type GoFunction struct {
	Name     string // api, scheduler, worker, dlq, migrate
	Function awslambda.Function
	Logs     awslogs.LogGroup
}

// NewGoFunction makes the function fn sized by cfg.Functions[fn], with
// env plus the stage's extra variables for it.
func NewGoFunction(scope constructs.Construct, fn string, cfg Config, net *Network, description string, env map[string]*string) *GoFunction {
	fc := cfg.Functions[fn]
	all := map[string]*string{}
	for k, v := range fc.Env {
		all[k] = jsii.String(v)
	}
	for k, v := range env {
		if _, clash := fc.Env[k]; clash {
			panic(fmt.Sprintf("context: stages.%s.functions.%s.env.%s is set by the stack; remove it", cfg.Stage, fn, k))
		}
		all[k] = v
	}
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.RetainData {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	name := resourceName(cfg, fn)
	logs := awslogs.NewLogGroup(scope, jsii.String(title(fn)+"Logs"), &awslogs.LogGroupProps{
		// /aws/lambda/jobweaver-<stage>-<fn>-<stack suffix>: retained
		// with retainData, so a stack created again takes a new name.
		LogGroupName:  retainedName("/aws/lambda/" + name),
		Retention:     retentionDays(cfg.LogRetentionDays),
		RemovalPolicy: removal,
	})
	arch := awslambda.Architecture_ARM_64()
	if cfg.Architecture == "x86_64" {
		arch = awslambda.Architecture_X86_64()
	}
	props := &awslambda.FunctionProps{
		FunctionName:   jsii.String(name),
		Description:    jsii.String(description),
		Runtime:        awslambda.Runtime_PROVIDED_AL2023(),
		Handler:        jsii.String("bootstrap"),
		Architecture:   arch,
		Code:           awslambda.Code_FromAsset(jsii.String(filepath.Join(cfg.AssetDir, fn)), nil),
		MemorySize:     jsii.Number(float64(fc.MemoryMiB)),
		Timeout:        awscdk.Duration_Seconds(jsii.Number(float64(fc.TimeoutSeconds))),
		Vpc:            net.Vpc,
		VpcSubnets:     net.Subnets,
		SecurityGroups: &[]awsec2.ISecurityGroup{net.Functions},
		Environment:    &all,
		LogGroup:       logs,
	}
	if fc.ReservedConcurrency > 0 {
		props.ReservedConcurrentExecutions = jsii.Number(float64(fc.ReservedConcurrency))
	}
	f := awslambda.NewFunction(scope, jsii.String(title(fn)), props)
	// The endpoints carry the function's AWS calls (Secrets Manager,
	// Lambda): have them before the function can run.
	for _, e := range net.Endpoints {
		f.Node().AddDependency(e)
	}
	return &GoFunction{Name: fn, Function: f, Logs: logs}
}

// Functions holds the four platform functions, their triggers from Kafka
// (one event-source mapping per topic), the scheduler's one-minute tick,
// and the queue where the mappings send what they give up on.
type Functions struct {
	constructs.Construct
	ByName map[string]*GoFunction
	// OnFailure receives the metadata of Kafka batches a mapping discards
	// (after its retries, or records too large to deliver). Records are
	// never lost from Kafka; the message says which offsets to replay.
	OnFailure awssqs.Queue
	Mappings  map[string]awslambda.EventSourceMapping // by topic
	Tick      awsevents.Rule
}

// consumes lists the topics the flow table maps to fn: "a, b".
func consumes(fn string) string { return strings.Join(flow.Consumes(fn), ", ") }

// NewFunctions builds the functions, their grants and their triggers
// (except the HTTP API, in API).
func NewFunctions(scope constructs.Construct, id string, cfg Config, net *Network, data *Data, msg *Messaging, prov *Provisioning, auth *Auth) *Functions {
	c := constructs.NewConstruct(scope, jsii.String(id))
	f := &Functions{Construct: c, ByName: map[string]*GoFunction{}, Mappings: map[string]awslambda.EventSourceMapping{}}
	descriptions := map[string]string{
		"api":       "JobWeaver api: the public REST API (API Gateway HTTP API)",
		"scheduler": "JobWeaver scheduler: ingest, dispatch, results, retries (" + consumes("scheduler") + ", 1-minute tick)",
		"worker":    "JobWeaver worker: runs jobs' steps (" + consumes("worker") + ")",
		"dlq":       "JobWeaver dlq: stores dead letters (" + consumes("dlq") + ") and replays Kafka batches the mappings gave up on (mapping-failures queue)",
	}
	for _, svc := range Services {
		env := serviceEnv(cfg, svc, data, msg)
		for _, callee := range callees[svc] {
			env[envFunctionName(callee)] = jsii.String(resourceName(cfg, callee))
		}
		if svc == "scheduler" {
			env["SCHEDULER_MAX_IN_FLIGHT"] = jsii.String(strconv.Itoa(cfg.InFlight()))
		}
		if svc == "api" {
			maps.Copy(env, auth.Env())
		}
		fn := NewGoFunction(c, svc, cfg, net, descriptions[svc], env)
		f.ByName[svc] = fn
		data.Secrets[svc].GrantRead(fn.Function, nil)
		// What it produces, as the flow table says: its outbox's topics;
		// for the dlq, any topic (it produces again the records of a
		// batch a mapping gave up on, after reading them back by offset).
		if produces := flow.Produces(svc); len(produces) > 0 {
			msg.GrantProduce(fn.Function, produces...)
		} else {
			// The producer is made at start (it dials nothing until used).
			msg.grant(fn.Function, []string{"kafka-cluster:Connect"}, msg.ClusterArn)
		}
		if svc == flow.Redriver {
			msg.GrantRead(fn.Function, flow.Topics()...)
		}
		// Nothing runs before its databases and topics exist (nor the
		// api before its admin key).
		fn.Function.Node().AddDependency(prov.Databases, prov.Topics, prov.AdminKey)
	}
	// The api reads the first admin key at cold start: that one secret,
	// GetSecretValue only.
	f.ByName["api"].Function.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
		Resources: jsii.Strings(*auth.AdminKey.SecretArn()),
	}))
	// The api queries the others; the worker starts each attempt through
	// the scheduler (POST /internal/attempts/start).
	for _, caller := range Services {
		for _, callee := range callees[caller] {
			if byName[caller+"->"+callee] {
				// By its ARN built from its name, not a reference: the
				// dlq also invokes the scheduler, and two functions whose
				// policies refer to each other are a dependency cycle.
				f.ByName[caller].Function.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions: jsii.Strings("lambda:InvokeFunction"),
					Resources: jsii.Strings(*awscdk.Stack_Of(c).FormatArn(&awscdk.ArnComponents{
						Service: jsii.String("lambda"), Resource: jsii.String("function"),
						ResourceName: jsii.String(resourceName(cfg, callee)), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
					})),
				}))
				continue
			}
			f.ByName[callee].Function.GrantInvoke(f.ByName[caller].Function)
		}
	}

	// The tick: rescue expired leases, dispatch due retries, drain the
	// outbox. One tick loops until shortly before the function's timeout
	// (SCHEDULER_TICK_MARGIN), so with a 60 s timeout dispatch is
	// continuous. A failed or late tick is not retried: the next one
	// comes within the minute.
	sched := f.ByName["scheduler"].Function
	sched.ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{
		RetryAttempts: jsii.Number(0),
		MaxEventAge:   awscdk.Duration_Seconds(jsii.Number(60)),
	})
	f.Tick = awsevents.NewRule(c, jsii.String("Tick"), &awsevents.RuleProps{
		RuleName:    jsii.String(resourceName(cfg, "scheduler-tick")),
		Description: jsii.String("JobWeaver scheduler tick"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
	})
	f.Tick.AddTarget(awseventstargets.NewLambdaFunction(sched, &awseventstargets.LambdaFunctionProps{
		RetryAttempts: jsii.Number(0),
		MaxEventAge:   awscdk.Duration_Seconds(jsii.Number(60)),
	}))

	f.OnFailure = awssqs.NewQueue(c, jsii.String("MappingFailures"), &awssqs.QueueProps{
		QueueName: jsii.String(resourceName(cfg, "mapping-failures")),
		// Lambda wants at least the consumer's timeout; six times it, as
		// Lambda's SQS guide advises, leaves room for its retries.
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(float64(6 * cfg.Functions["dlq"].TimeoutSeconds))),
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		RetentionPeriod:   awscdk.Duration_Days(jsii.Number(14)),
	})
	onFailure := awslambdaeventsources.NewSqsDlq(f.OnFailure)

	for _, m := range Mappings() {
		mc := cfg.Mappings[m.Topic]
		fn := f.ByName[m.Function].Function
		r, _ := flow.ByTopic(m.Topic)
		group := r.Group(resourceName(cfg, ""))
		msg.GrantConsume(fn, m.Topic, group)
		opts := &awslambda.EventSourceMappingOptions{
			EventSourceArn:       msg.ClusterArn,
			KafkaTopic:           jsii.String(m.Topic),
			KafkaConsumerGroupId: jsii.String(group),
			BatchSize:            jsii.Number(float64(mc.BatchSize)),
			StartingPosition:     awslambda.StartingPosition(mc.StartingPosition),
			// Always set: left out, Lambda waits 500 ms to fill a Kafka batch.
			MaxBatchingWindow: awscdk.Duration_Seconds(jsii.Number(float64(mc.BatchWindowSeconds))),
			OnFailure:         onFailure,
		}
		if mc.Provisioned() {
			opts.ProvisionedPollerConfig = &awslambda.ProvisionedPollerConfig{
				MinimumPollers:  jsii.Number(float64(mc.MinPollers)),
				MaximumPollers:  jsii.Number(float64(mc.MaxPollers)),
				PollerGroupName: jsii.String(resourceName(cfg, "pollers")),
			}
			// Lambda's Kafka error handling (provisioned mode only). The
			// handlers retry a batch by failing it whole and return no
			// partial response yet; ReportBatchItemFailures is harmless
			// until they do (a null response is a full success).
			opts.RetryAttempts = jsii.Number(float64(mc.RetryAttempts))
			opts.BisectBatchOnError = jsii.Bool(true)
			opts.ReportBatchItemFailures = jsii.Bool(true)
		}
		f.Mappings[m.Topic] = fn.AddEventSourceMapping(jsii.String("Kafka"+title(m.Topic)), opts)
	}
	// GET /api/system shows each mapping's consumer lag: the api reads
	// their AWS/Lambda OffsetLag from CloudWatch (shared/lag), by mapping
	// UUID. GetMetricData has no resource-level permissions.
	apiFn := f.ByName["api"].Function
	pairs := make([]*string, 0, len(flow.Routes))
	for _, r := range flow.Routes {
		pairs = append(pairs, awscdk.Fn_Join(jsii.String(""), &[]*string{
			jsii.String(r.Topic + "="), f.Mappings[r.Topic].EventSourceMappingId(),
		}))
	}
	AddTracing(c, cfg, f.ByName)
	apiFn.AddEnvironment(jsii.String("LAG_SOURCE"), jsii.String("cloudwatch"), nil)
	apiFn.AddEnvironment(jsii.String("KAFKA_GROUP_PREFIX"), jsii.String(resourceName(cfg, "")), nil)
	apiFn.AddEnvironment(jsii.String("LAG_MAPPINGS"), awscdk.Fn_Join(jsii.String(","), &pairs), nil)
	apiFn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("cloudwatch:GetMetricData"),
		Resources: jsii.Strings("*"),
	}))

	// The dlq takes what lands on the failure queue: it stores each range
	// as a MAPPING_FAILURE dead letter and produces its records again
	// (shared/dlq HandleSQS). A message it cannot handle yet (Kafka
	// down) comes back after the visibility timeout, for the queue's
	// retention of 14 days.
	dlqFn := f.ByName["dlq"]
	f.OnFailure.GrantConsumeMessages(dlqFn.Function)
	dlqFn.Function.AddEventSource(awslambdaeventsources.NewSqsEventSource(f.OnFailure, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(10),
		MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(0)),
		ReportBatchItemFailures: jsii.Bool(true),
		// Within the dlq's reservation (Config.ConcurrencyNeed): left
		// out, Lambda starts five invocations and throttles itself.
		MaxConcurrency: jsii.Number(FailureQueueMaxConcurrency),
	}))

	// The mappings read with the function's role: the MSK control-plane
	// calls they make, and the network lookups for their pollers (EC2
	// Describe* have no resource-level permissions).
	for _, svc := range []string{"scheduler", "worker", "dlq"} {
		fn := f.ByName[svc].Function
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers"),
			Resources: jsii.Strings(*msg.ClusterArn),
		}))
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("ec2:DescribeSecurityGroups", "ec2:DescribeVpcs"),
			Resources: jsii.Strings("*"),
		}))
	}
	return f
}

// serviceEnv is a service function's environment: its database (the URL
// has no password: DB_SECRET_ARN holds it), the brokers, the metrics mode.
func serviceEnv(cfg Config, svc string, data *Data, msg *Messaging) map[string]*string {
	q := url.Values{"sslmode": {"require"}}
	if cfg.Database.Proxy {
		// RDS Proxy pins a client to a server connection while it has
		// named prepared statements (pgx's default cache_statement mode);
		// cache_describe uses only the unnamed statement.
		q.Set("default_query_exec_mode", "cache_describe")
	}
	dsn := awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("postgres://" + DatabaseUser(svc) + "@"), data.Host, jsii.String(":"), data.Port,
		jsii.String("/" + DatabaseName(svc) + "?" + q.Encode()),
	})
	return map[string]*string{
		"DATABASE_URL":  dsn,
		"DB_SECRET_ARN": data.Secrets[svc].SecretArn(),
		"DB_MAX_CONNS":  jsii.String(fmt.Sprint(cfg.Functions[svc].DBMaxConns)),
		"DB_MIGRATE":    jsii.String("false"),
		"KAFKA_BROKERS": msg.BootstrapBrokers,
		"KAFKA_AUTH":    jsii.String("iam"),
		"METRICS":       jsii.String("emf"),
	}
}

// callees are the functions each function invokes (Lambda Invoke).
var callees = map[string][]string{
	"api":       {"scheduler", "worker", "dlq"},
	"worker":    {"scheduler"},
	"scheduler": {"dlq"},       // the tick starts the dlq's maintenance (bulk operations, retention)
	"dlq":       {"scheduler"}, // an entry's retry asks the scheduler to run the job again
}

// byName are the invocations granted on the callee's ARN built from its
// name rather than on a reference to it (which would close a cycle).
var byName = map[string]bool{"scheduler->dlq": true}

// envFunctionName is the variable a caller reads a callee's name from.
func envFunctionName(callee string) string {
	return map[string]string{
		"scheduler": "SCHEDULER_FUNCTION_NAME",
		"worker":    "WORKER_FUNCTION_NAME",
		"dlq":       "DLQ_FUNCTION_NAME",
	}[callee]
}
