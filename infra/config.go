package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jobweaver/jobweaver/shared/apiauth"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/flow"
	"github.com/jobweaver/jobweaver/shared/jobspec"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/scheduler"
	"github.com/jobweaver/jobweaver/shared/step"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// Config is everything the stack takes from CDK context (cdk.json, or -c
// on the command line for the top-level keys): the stage to deploy and
// that stage's settings from "stages". Every stage setting must be given:
// a missing or misspelt key stops the synth with a message naming it.
type Config struct {
	Stage        string // "stage": dev, prod, ... (a key of "stages")
	Region       string // "region": where the stack deploys
	Architecture string // "architecture": arm64 (default) or x86_64
	AssetDir     string // "assetDir": where `make build` left <fn>/bootstrap
	// DashboardDir ("dashboardDir") is the web dashboard's build (make
	// build: dashboard/dist), which a deploy uploads to the dashboard
	// bucket when dashboardHosting is on.
	DashboardDir string
	AlarmEmail   string // "alarmEmail": subscribed to the alarm topic if set
	// Refresh ("refresh") is any new value to run the deploy-time
	// resources that read or write outside the template again on a deploy
	// that changes nothing else: the copy of the user pool's keys (after
	// Cognito rotated them) and the admin key's check (after the secret
	// was emptied): make deploy CDK_ARGS="-c refresh=$(date +%s)".
	Refresh string
	StageConfig
}

// StageConfig is one entry of "stages".
type StageConfig struct {
	// RetainData keeps the database (snapshot), the dashboard bucket and
	// the log groups when the stack is deleted, and turns on deletion
	// protection. False (dev) deletes them with the stack.
	RetainData       bool `json:"retainData"`
	LogRetentionDays int  `json:"logRetentionDays"`

	Network struct {
		MaxAzs int `json:"maxAzs"`
		// NatGateways > 0 gives the private subnets a route out (HTTP_CALL
		// steps to the internet need one); 0 leaves them isolated, with
		// VPC endpoints for the AWS APIs the functions call.
		NatGateways int `json:"natGateways"`
		// AvailabilityZones pins the AZs by name (us-east-1a, ...); empty
		// takes the region's first maxAzs. Pin them when one of the first
		// lacks a service the stack needs: RDS Proxy is not offered in
		// every AZ (use1-az3, for one), and which name is which AZ ID
		// differs between accounts (aws ec2 describe-availability-zones).
		AvailabilityZones []string `json:"availabilityZones"`
	} `json:"network"`

	Database struct {
		InstanceClass          string `json:"instanceClass"` // t4g.micro, m7g.large, ...
		EngineVersion          string `json:"engineVersion"` // Postgres major version
		AllocatedStorageGiB    int    `json:"allocatedStorageGiB"`
		MaxAllocatedStorageGiB int    `json:"maxAllocatedStorageGiB"`
		MultiAz                bool   `json:"multiAz"`
		BackupRetentionDays    int    `json:"backupRetentionDays"`
		// Proxy puts an RDS Proxy between the functions and the instance.
		Proxy bool `json:"proxy"`
		// MaxConnections is the instance's max_connections (RDS derives it
		// from the class's memory). Without the proxy the functions'
		// reserved concurrency times their pool sizes must fit in it.
		MaxConnections int `json:"maxConnections"`
	} `json:"database"`

	Kafka struct {
		Mode       string `json:"mode"`       // serverless or provisioned
		BrokerType string `json:"brokerType"` // provisioned: kafka.t3.small, kafka.m7g.large, ...
		Brokers    int    `json:"brokers"`    // provisioned: a multiple of the AZ count
		VolumeGiB  int    `json:"volumeGiB"`  // provisioned: EBS per broker
		Version    string `json:"version"`    // provisioned: Kafka version
	} `json:"kafka"`

	Functions map[string]FunctionConfig `json:"functions"`
	Mappings  map[string]MappingConfig  `json:"mappings"`

	API struct {
		ThrottleRatePerSecond int `json:"throttleRatePerSecond"`
		ThrottleBurst         int `json:"throttleBurst"`
		// Auth must be "cognito": in AWS the api function always checks
		// its callers (API_AUTH=keys,jwt): an API key, or an access token
		// from the stage's Cognito user pool (scope jobweaver/read gives
		// viewer, jobweaver/write operator). Nothing else is accepted:
		// an AWS stage is never open.
		Auth string `json:"auth"`
		// Clients are the app clients that may get tokens (client
		// credentials grant), by name, with their scopes: "read", "write".
		Clients map[string][]string `json:"clients"`
		// TokenValidityMinutes is how long an access token lasts (5..1440).
		TokenValidityMinutes int `json:"tokenValidityMinutes"`
	} `json:"api"`

	// DashboardHosting adds an S3 bucket and a CloudFront distribution for
	// the web dashboard, and uploads its build (DashboardDir) on each
	// deploy; /api/* goes to the API.
	DashboardHosting bool `json:"dashboardHosting"`

	Alarms AlarmConfig `json:"alarms"`
}

// FunctionConfig sizes one function.
type FunctionConfig struct {
	MemoryMiB      int `json:"memoryMiB"`
	TimeoutSeconds int `json:"timeoutSeconds"`
	// ReservedConcurrency caps (and reserves) the function's concurrent
	// executions; 0 leaves it unreserved. An account whose concurrency
	// quota is still the new-account 10 must use 0 everywhere.
	ReservedConcurrency int `json:"reservedConcurrency"`
	// DBMaxConns is the function's pool size (DB_MAX_CONNS).
	DBMaxConns int `json:"dbMaxConns"`
	// Env adds environment variables (LOG_LEVEL, SCHEDULER_*, WORKER_*...);
	// it cannot override the ones the stack sets.
	Env map[string]string `json:"env"`
}

// MappingConfig tunes the event-source mapping of one topic.
type MappingConfig struct {
	BatchSize int `json:"batchSize"`
	// BatchWindowSeconds is how long Lambda may wait to fill a batch, in
	// whole seconds (the API's unit); 0 invokes as soon as records arrive
	// (unset, Lambda's Kafka default would be 500 ms).
	BatchWindowSeconds int    `json:"batchWindowSeconds"`
	StartingPosition   string `json:"startingPosition"` // TRIM_HORIZON or LATEST
	// MinPollers and MaxPollers > 0 put the mapping in provisioned mode,
	// which also enables RetryAttempts, bisect on error and partial batch
	// responses (Lambda supports them for Kafka only in that mode).
	MinPollers    int `json:"minPollers"`
	MaxPollers    int `json:"maxPollers"`
	RetryAttempts int `json:"retryAttempts"` // -1: until the record expires
}

// Provisioned reports whether the mapping uses provisioned pollers.
func (m MappingConfig) Provisioned() bool { return m.MinPollers > 0 }

// AlarmConfig holds the alarm thresholds.
type AlarmConfig struct {
	DeadLetters           int `json:"deadLetters"`           // alarm when more arrive in 5 minutes
	FailureRatePercent    int `json:"failureRatePercent"`    // JobsFailed / JobsDispatched over 15 minutes
	OutboxBacklog         int `json:"outboxBacklog"`         // rows, sustained 15 minutes
	DueBacklog            int `json:"dueBacklog"`            // due jobs, sustained 15 minutes
	OldestDueAgeSeconds   int `json:"oldestDueAgeSeconds"`   // oldest due job's wait
	OffsetLag             int `json:"offsetLag"`             // records behind, per function
	RDSCPUPercent         int `json:"rdsCpuPercent"`         // sustained 15 minutes
	RDSConnectionsPercent int `json:"rdsConnectionsPercent"` // of database.maxConnections
	FunctionErrors        int `json:"functionErrors"`        // per function, in 5 minutes
	FunctionThrottles     int `json:"functionThrottles"`     // per function, in 5 minutes
}

// StackEnv are the environment variables the stack sets itself; the
// stages' functions.<fn>.env may not set them.
var StackEnv = []string{
	"DATABASE_URL", "DB_SECRET_ARN", "DB_MAX_CONNS", "DB_MIGRATE", "KAFKA_BROKERS", "KAFKA_AUTH", "METRICS",
	"SCHEDULER_FUNCTION_NAME", "WORKER_FUNCTION_NAME", "DLQ_FUNCTION_NAME",
	// The dlq's notifications (DLQNotifications): the alarm topic and the
	// webhook's generated signing secret.
	"DLQ_SNS_TOPIC_ARN", "DLQ_WEBHOOK_SECRET_ARN",
	// Follows the workers (Config.InFlight): tune the worker's reserved
	// concurrency, WORKER_CONCURRENCY or the run-job batch size instead.
	"SCHEDULER_MAX_IN_FLIGHT",
	// The api's GET /api/system reads each mapping's OffsetLag.
	"LAG_SOURCE", "LAG_MAPPINGS", "KAFKA_GROUP_PREFIX",
	// Who may call the api (Auth.Env): always keys,jwt in AWS, the
	// stage's user pool, and the first admin key from its secret (never
	// a key in the context).
	"API_AUTH", "AUTH_JWT_ISSUER", "AUTH_JWT_AUDIENCE", "AUTH_JWT_ROLE_CLAIM", "AUTH_JWT_SCOPE_ROLES", "AUTH_JWT_JWKS",
	"API_ADMIN_KEY", "API_ADMIN_KEY_SECRET_ARN",
	// WEBHOOK jobs' signing keys (WebhookSigningKeys): from the generated
	// secret, never as values in the context.
	"WEBHOOK_SIGNING_KEYS", "WEBHOOK_SIGNING_KEYS_SECRET_ARN",
	// Spans go to the ADOT collector layer, which sends them to X-Ray
	// (AddTracing). The sampler stays a stage's to set.
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OPENTELEMETRY_COLLECTOR_CONFIG_URI",
}

// The platform's functions, in flow order, and the deploy-time one.
var (
	Services     = []string{"api", "scheduler", "worker", "dlq"}
	AllFunctions = append(append([]string(nil), Services...), "migrate")
)

// Mapping routes a topic to the function that consumes it; the routing
// is the code's (see docs/architecture.md), only the tuning is context.
type Mapping struct {
	Topic      string
	Partitions int32
	Function   string
}

// InFlight is the scheduler's SCHEDULER_MAX_IN_FLIGHT: twice what the
// worker invocations take at once (scheduler.InFlightFor). Lambda invokes
// the worker once at a time per run-job partition, as its reserved
// concurrency allows, with a batch of up to the run-job mapping's batch
// size.
func (c Config) InFlight() int {
	invocations := 0
	for _, m := range Mappings() {
		if m.Topic == "run-job" {
			invocations = int(m.Partitions)
		}
	}
	if r := c.Functions["worker"].ReservedConcurrency; r > 0 {
		invocations = min(invocations, r)
	}
	return scheduler.InFlightFor(invocations, c.Mappings["run-job"].BatchSize)
}

// Mappings lists the five event-source mappings, in shared/kafka.Topics
// order, each to the consumer the flow table (shared/flow) gives its
// topic.
func Mappings() []Mapping {
	out := make([]Mapping, 0, len(kafka.Topics))
	for _, t := range kafka.Topics {
		r, _ := flow.ByTopic(t.Name)
		out = append(out, Mapping{Topic: t.Name, Partitions: t.Partitions, Function: r.Consumer})
	}
	return out
}

// ConfigFromContext reads the configuration from the app's context
// values: get returns a key's value or nil.
func ConfigFromContext(get func(key string) any) (Config, error) {
	str := func(key, def string) string {
		if v, ok := get(key).(string); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	c := Config{
		Stage:        str("stage", "dev"),
		Region:       str("region", ""),
		Architecture: str("architecture", "arm64"),
		AssetDir:     str("assetDir", "build"),
		DashboardDir: str("dashboardDir", "dashboard/dist"),
		AlarmEmail:   str("alarmEmail", ""),
		Refresh:      str("refresh", ""),
	}
	stages, ok := get("stages").(map[string]any)
	if !ok {
		return c, errors.New(`context: "stages" is missing (it lives in cdk.json)`)
	}
	raw, ok := stages[c.Stage]
	if !ok {
		names := make([]string, 0, len(stages))
		for k := range stages {
			names = append(names, k)
		}
		sort.Strings(names)
		return c, fmt.Errorf("context: stage %q is not one of stages %v", c.Stage, names)
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return c, fmt.Errorf("context: stages.%s: %w", c.Stage, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c.StageConfig); err != nil {
		return c, fmt.Errorf("context: stages.%s: %w", c.Stage, err)
	}
	return c, c.Validate()
}

// Validate checks every setting, and that without the RDS Proxy the
// functions' connections fit in the instance's max_connections.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("context: stages.%s.%s", c.Stage, fmt.Sprintf(format, args...)))
	}
	if c.Region == "" {
		errs = append(errs, errors.New(`context: "region" is required`))
	}
	if c.Architecture != "arm64" && c.Architecture != "x86_64" {
		errs = append(errs, fmt.Errorf(`context: "architecture" must be arm64 or x86_64 (got %q)`, c.Architecture))
	}
	if _, ok := retention[c.LogRetentionDays]; !ok {
		bad("logRetentionDays must be one of CloudWatch Logs' periods (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)")
	}
	if c.Network.MaxAzs < 2 {
		bad("network.maxAzs must be at least 2 (RDS and MSK need two AZs)")
	}
	if c.Network.NatGateways < 0 || c.Network.NatGateways > c.Network.MaxAzs {
		bad("network.natGateways must be between 0 and maxAzs")
	}
	if azs := c.Network.AvailabilityZones; len(azs) > 0 {
		if len(azs) != c.Network.MaxAzs {
			bad("network.availabilityZones lists %d AZs, but maxAzs is %d: list maxAzs of them, or none", len(azs), c.Network.MaxAzs)
		}
		for _, az := range azs {
			if c.Region != "" && (!strings.HasPrefix(az, c.Region) || len(az) != len(c.Region)+1) {
				bad("network.availabilityZones: %q is not an AZ of region %s (say %sa)", az, c.Region, c.Region)
			}
		}
	}
	d := c.Database
	if d.InstanceClass == "" || d.EngineVersion == "" {
		bad("database.instanceClass and database.engineVersion are required")
	}
	if d.AllocatedStorageGiB < 20 || d.MaxAllocatedStorageGiB < d.AllocatedStorageGiB {
		bad("database: allocatedStorageGiB must be >= 20 and maxAllocatedStorageGiB >= it")
	}
	if d.BackupRetentionDays < 1 || d.BackupRetentionDays > 35 {
		bad("database.backupRetentionDays must be 1..35")
	}
	if d.MaxConnections <= 0 {
		bad("database.maxConnections must be > 0")
	}
	if d.Proxy && d.EngineVersion != "" && !contains(ProxyEngineVersions, d.EngineVersion) {
		bad("database.engineVersion %s with database.proxy: RDS Proxy is confirmed for RDS for PostgreSQL %v only "+
			"(AWS's table \"Supported Regions and DB engines for Amazon RDS Proxy\"); pick one of them, or add the version to "+
			"ProxyEngineVersions (infra/config.go) once that table lists it", d.EngineVersion, ProxyEngineVersions)
	}
	switch k := c.Kafka; k.Mode {
	case "serverless":
	case "provisioned":
		if k.BrokerType == "" || k.Version == "" || k.VolumeGiB <= 0 {
			bad("kafka: provisioned needs brokerType, version and volumeGiB")
		}
		if k.Brokers <= 0 || k.Brokers%c.Network.MaxAzs != 0 {
			bad("kafka.brokers must be a positive multiple of network.maxAzs (%d)", c.Network.MaxAzs)
		}
	default:
		bad("kafka.mode must be serverless or provisioned (got %q)", k.Mode)
	}
	for _, fn := range AllFunctions {
		f, ok := c.Functions[fn]
		if !ok {
			bad("functions.%s is missing", fn)
			continue
		}
		if f.MemoryMiB < 128 || f.MemoryMiB > 10240 {
			bad("functions.%s.memoryMiB must be 128..10240", fn)
		}
		if f.TimeoutSeconds < 1 || f.TimeoutSeconds > 900 {
			bad("functions.%s.timeoutSeconds must be 1..900", fn)
		}
		if f.TimeoutSeconds > maxKafkaTimeoutSeconds && consumesKafka(fn) {
			bad("functions.%s.timeoutSeconds must be at most %d: Lambda's MSK event-source mappings only take functions whose timeout is 14 minutes or less",
				fn, maxKafkaTimeoutSeconds)
		}
		if f.ReservedConcurrency < 0 {
			bad("functions.%s.reservedConcurrency must be >= 0", fn)
		}
		if f.DBMaxConns < 1 {
			bad("functions.%s.dbMaxConns must be >= 1", fn)
		}
		for k := range f.Env {
			if contains(StackEnv, k) || strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "LAMBDA_") {
				bad("functions.%s.env.%s is set by the stack or by Lambda; remove it", fn, k)
			}
		}
	}
	for fn := range c.Functions {
		if !contains(AllFunctions, fn) {
			bad("functions.%s is not a function (want %v)", fn, AllFunctions)
		}
	}
	for _, m := range Mappings() {
		mc, ok := c.Mappings[m.Topic]
		if !ok {
			bad("mappings.%s is missing", m.Topic)
			continue
		}
		if mc.BatchSize < 1 || mc.BatchSize > 10000 {
			bad("mappings.%s.batchSize must be 1..10000", m.Topic)
		}
		if mc.BatchWindowSeconds < 0 || mc.BatchWindowSeconds > 300 {
			bad("mappings.%s.batchWindowSeconds must be 0..300", m.Topic)
		}
		if mc.StartingPosition != "TRIM_HORIZON" && mc.StartingPosition != "LATEST" {
			bad("mappings.%s.startingPosition must be TRIM_HORIZON or LATEST", m.Topic)
		}
		if mc.MinPollers < 0 || mc.MaxPollers < mc.MinPollers || (mc.MinPollers == 0) != (mc.MaxPollers == 0) {
			bad("mappings.%s: minPollers and maxPollers are both 0 (on-demand) or 1 <= min <= max", m.Topic)
		}
		if mc.RetryAttempts < -1 || mc.RetryAttempts > 10000 {
			bad("mappings.%s.retryAttempts must be -1..10000", m.Topic)
		}
		if mc.Provisioned() && mc.RetryAttempts == -1 {
			bad("mappings.%s.retryAttempts: -1 with the on-failure destination means 10 for Lambda, after which a batch is skipped; "+
				"set the limit you mean (up to 10000)", m.Topic)
		}
		if !mc.Provisioned() && mc.RetryAttempts != -1 {
			bad("mappings.%s.retryAttempts needs provisioned pollers (Lambda's Kafka error handling is provisioned-mode only); use -1", m.Topic)
		}
	}
	for topic := range c.Mappings {
		if _, ok := mappingByTopic(topic); !ok {
			bad("mappings.%s is not a topic", topic)
		}
	}
	// What the api accepts must run: the worker's timeout holds the
	// longest step (jobspec.MaxStepMs, or a SLEEP short enough to run
	// inline) and its margins; longer jobs yield and resume. The worker's
	// settings are read as the function will read them, so a bad value
	// stops the synth rather than the function's cold start.
	if w, ok := c.Functions["worker"]; ok && w.TimeoutSeconds > 0 {
		env := config.FromMap(w.Env)
		wc := worker.ConfigFromEnv(env)
		if err := env.Err(); err != nil {
			bad("functions.worker.env: %v", err)
		}
		if min := worker.MinTimeout(wc.DeadlineMargin, wc.Durable.ParkThreshold); time.Duration(w.TimeoutSeconds)*time.Second < min {
			bad("functions.worker.timeoutSeconds (%d) must be at least %d: a step may run up to %d s (jobspec.MaxStepMs, or a SLEEP up to WORKER_PARK_THRESHOLD runs inline), "+
				"steps stop WORKER_DEADLINE_MARGIN (%s) before the deadline, and an invocation needs 30 s besides; longer jobs yield and resume",
				w.TimeoutSeconds, int((min+time.Second-1)/time.Second), jobspec.MaxStepMs/1000, wc.DeadlineMargin)
		}
		// A job's checkpoints must outlive every way it may resume: a
		// dead letter is retried from the DLQ up to twice DLQ_RETENTION
		// after it arrived, and the job may have parked for up to 7 days.
		denv := config.FromMap(c.Functions["dlq"].Env)
		keep := 2*dlq.ConfigFromEnv(denv).Retention + time.Duration(step.MaxParkedSleepMs)*time.Millisecond
		if denv.Err() == nil && wc.CheckpointRetention < keep {
			bad("functions.worker.env.WORKER_CHECKPOINT_RETENTION (%s) must be at least %s: twice the dlq's DLQ_RETENTION (a dead letter may be retried "+
				"until then, and resumes from its checkpoints) plus the longest park (7 days)", wc.CheckpointRetention, keep)
		}
	}
	// An attempt may run as long as the worker's timeout; its lease (from
	// the attempt's start) must outlast that, or a long attempt is rescued
	// (and run again) while it runs.
	if sched, worker := c.Functions["scheduler"], c.Functions["worker"]; worker.TimeoutSeconds > 0 {
		lease := 15 * time.Minute // the scheduler's default
		if v, ok := sched.Env["SCHEDULER_LEASE"]; ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				bad("functions.scheduler.env.SCHEDULER_LEASE: %v", err)
			}
			lease = d
		}
		if lease <= time.Duration(worker.TimeoutSeconds)*time.Second {
			bad("functions.scheduler.env.SCHEDULER_LEASE (%s) must exceed the worker's timeout (%ds): a lease that ends while the job may still run rescues and re-runs it",
				lease, worker.TimeoutSeconds)
		}
	}
	if c.API.ThrottleRatePerSecond <= 0 || c.API.ThrottleBurst <= 0 {
		bad("api.throttleRatePerSecond and api.throttleBurst must be > 0")
	}
	switch c.API.Auth {
	case "cognito":
		if len(c.API.Clients) == 0 {
			bad("api.clients: auth cognito needs at least one app client, say {\"operator\": [\"read\", \"write\"]}")
		}
		for name, scopes := range c.API.Clients {
			if !apiauth.ValidClientName(name) {
				bad("api.clients.%s: a client name is lower-case letters, digits and dashes, at most 40", name)
			}
			if len(scopes) == 0 {
				bad("api.clients.%s has no scope (want some of %v)", name, apiauth.Scopes)
			}
			for _, sc := range scopes {
				if !contains(apiauth.Scopes, sc) {
					bad("api.clients.%s: scope %q is not one of %v", name, sc, apiauth.Scopes)
				}
			}
		}
		if c.API.TokenValidityMinutes < 5 || c.API.TokenValidityMinutes > 1440 {
			bad("api.tokenValidityMinutes must be 5..1440 (Cognito's bounds for access tokens)")
		}
	default:
		bad("api.auth must be cognito (got %q): in AWS the api always checks its callers, with API keys and the stage's Cognito tokens", c.API.Auth)
	}
	a := c.Alarms
	if a.DeadLetters < 0 || a.FailureRatePercent <= 0 || a.FailureRatePercent > 100 || a.OutboxBacklog <= 0 ||
		a.DueBacklog <= 0 || a.OldestDueAgeSeconds <= 0 || a.OffsetLag <= 0 || a.RDSCPUPercent <= 0 ||
		a.RDSConnectionsPercent <= 0 || a.RDSConnectionsPercent > 100 || a.FunctionErrors < 0 || a.FunctionThrottles < 0 {
		bad("alarms: thresholds must be positive (deadLetters, functionErrors and functionThrottles may be 0; percentages at most 100)")
	}
	if len(errs) == 0 {
		// A trigger that finds its function's reservation used up is
		// throttled: a Kafka batch or a failure-queue message waits and is
		// retried late, a tick is dropped, an internal route fails.
		for _, fn := range Services {
			reserved := c.Functions[fn].ReservedConcurrency
			if need, detail := c.ConcurrencyNeed(fn); reserved > 0 && need > reserved {
				bad("functions.%s.reservedConcurrency %d is below what its triggers can run at once, %d (%s): "+
					"raise it to %d (and check the connection budget) or leave it 0 (unreserved, with database.proxy)",
					fn, reserved, need, detail, need)
			}
		}
	}
	if len(errs) == 0 && !c.Database.Proxy {
		if need, detail := c.ConnectionBudget(); need > c.Database.MaxConnections {
			bad("database: without the RDS Proxy the functions may open %d connections (%s), more than maxConnections %d: "+
				"lower reservedConcurrency or dbMaxConns, pick a larger instanceClass, or set database.proxy",
				need, detail, c.Database.MaxConnections)
		}
	}
	return errors.Join(errs...)
}

// ConnectionBudget is the most connections the functions can hold at once
// without a proxy: reserved concurrency (1 for an unreserved function,
// which only the deploy-time migrate function may be) times pool size,
// summed, plus 3 for the administrators (superuser_reserved_connections).
func (c Config) ConnectionBudget() (int, string) {
	total, parts := 3, []string{"3 reserved"}
	for _, fn := range AllFunctions {
		f := c.Functions[fn]
		n := f.ReservedConcurrency
		if n == 0 {
			if fn != "migrate" {
				return 1 << 30, fn + " has no reserved concurrency, so no bound"
			}
			n = 1
		}
		total += n * f.DBMaxConns
		parts = append(parts, fmt.Sprintf("%s %dx%d", fn, n, f.DBMaxConns))
	}
	return total, strings.Join(parts, " + ")
}

// ProxyEngineVersions are the Postgres major versions the stack puts an
// RDS Proxy in front of: those we could confirm RDS Proxy supports for RDS
// for PostgreSQL. A newer major goes here once AWS's table lists it.
var ProxyEngineVersions = []string{"13", "14", "15", "16"}

// FailureQueueMaxConcurrency caps the dlq's mapping of the
// mapping-failures queue (MaxConcurrency; SQS mappings take 2..1000).
// Without it Lambda starts five invocations at once and scales on.
const FailureQueueMaxConcurrency = 2

// ConcurrencyNeed is the most invocations of fn that its triggers can run
// at once, with how it adds up:
//   - one per partition of each Kafka topic mapped to it (Lambda reads a
//     partition in order: one batch at a time), in on-demand and in
//     provisioned mode alike;
//   - the scheduler's tick: one (it ends before the next minute's);
//   - the dlq's failure-queue mapping: FailureQueueMaxConcurrency;
//   - one for each function that invokes it synchronously (callees: the
//     api's internal routes; the worker, which starts each attempt through
//     the scheduler).
//
// Validate refuses a reservation below it, so that no trigger of a
// platform function is ever throttled by its own function's reservation.
func (c Config) ConcurrencyNeed(fn string) (int, string) {
	need, parts := 0, []string{}
	for _, m := range Mappings() {
		if m.Function == fn {
			need += int(m.Partitions)
			parts = append(parts, fmt.Sprintf("%s %d", m.Topic, m.Partitions))
		}
	}
	switch fn {
	case "scheduler":
		need++
		parts = append(parts, "tick 1")
	case "dlq":
		need += FailureQueueMaxConcurrency
		parts = append(parts, fmt.Sprintf("mapping-failures queue %d", FailureQueueMaxConcurrency))
	}
	// Synchronous callers (callees: the api's internal routes, the worker
	// starting attempts): one slot each. Their calls last milliseconds and
	// the caller's SDK retries a throttled one, so they get headroom, not
	// a bound (a worker may start a whole batch's attempts at once).
	for _, caller := range Services {
		if contains(callees[caller], fn) {
			need++
			parts = append(parts, caller+" invocations 1")
		}
	}
	return need, strings.Join(parts, " + ")
}

// ReservedTotal is the concurrency the stage reserves, summed over the
// functions (migrate reserves none). Lambda refuses a reservation that
// leaves the account fewer than 100 unreserved: the account's
// concurrency quota must be at least ReservedTotal + 100.
func (c Config) ReservedTotal() int {
	total := 0
	for _, fn := range AllFunctions {
		total += c.Functions[fn].ReservedConcurrency
	}
	return total
}

// maxKafkaTimeoutSeconds is the longest timeout a function behind an MSK
// event-source mapping may have (Lambda's MSK guide: 14 minutes).
const maxKafkaTimeoutSeconds = 14 * 60

// consumesKafka reports whether a mapping feeds fn.
func consumesKafka(fn string) bool {
	for _, m := range Mappings() {
		if m.Function == fn {
			return true
		}
	}
	return false
}

func mappingByTopic(topic string) (Mapping, bool) {
	for _, m := range Mappings() {
		if m.Topic == topic {
			return m, true
		}
	}
	return Mapping{}, false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
