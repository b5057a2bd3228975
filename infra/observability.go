package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// MetricNamespace is where the functions' EMF metrics land
// (shared/metrics.Namespace; every metric has the Service dimension).
const MetricNamespace = "JobWeaver"

// Observability holds the alarms, the SNS topic they notify (with an
// email subscription if alarmEmail is set) and a CloudWatch dashboard
// that reads the pipeline left to right: submitted, dispatched,
// completed or failed, dead-lettered, then latencies, backlogs and lag.
type Observability struct {
	constructs.Construct
	Topic     awssns.Topic
	Alarms    map[string]awscloudwatch.Alarm // by short name
	Dashboard awscloudwatch.Dashboard
}

// ObservabilityProps are what the alarms and the dashboard watch.
type ObservabilityProps struct {
	Functions *Functions
	Data      *Data
	API       *API
}

// jw is a JobWeaver metric at the Service level. Alarms take it without
// a label (a label turns the alarm into a metric-math one).
func jw(name, service, stat string, period float64, label string) awscloudwatch.Metric {
	p := &awscloudwatch.MetricProps{
		Namespace:     jsii.String(MetricNamespace),
		MetricName:    jsii.String(name),
		DimensionsMap: &map[string]*string{"Service": jsii.String(service)},
		Statistic:     jsii.String(stat),
		Period:        awscdk.Duration_Minutes(jsii.Number(period)),
	}
	if label != "" {
		p.Label = jsii.String(label)
	}
	return awscloudwatch.NewMetric(p)
}

func opts(stat string, period float64, label string) *awscloudwatch.MetricOptions {
	o := &awscloudwatch.MetricOptions{Statistic: jsii.String(stat), Period: awscdk.Duration_Minutes(jsii.Number(period))}
	if label != "" {
		o.Label = jsii.String(label)
	}
	return o
}

// alarmPublishStatement lets CloudWatch publish to topic for the alarms
// of this account and region whose names are the stage's
// (jobweaver-<stage>-*), and only those.
func alarmPublishStatement(cfg Config, topic awssns.ITopic) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]any{
			"ArnLike": map[string]any{"aws:SourceArn": awscdk.Fn_Join(jsii.String(""), &[]*string{
				jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":cloudwatch:"), awscdk.Aws_REGION(), jsii.String(":"),
				awscdk.Aws_ACCOUNT_ID(), jsii.String(":alarm:" + resourceName(cfg, "*")),
			})},
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		},
	})
}

// NewObservability builds the topic, the alarms and the dashboard.
func NewObservability(scope constructs.Construct, id string, cfg Config, p ObservabilityProps) *Observability {
	c := constructs.NewConstruct(scope, jsii.String(id))
	o := &Observability{Construct: c, Alarms: map[string]awscloudwatch.Alarm{}}
	o.Topic = awssns.NewTopic(c, jsii.String("AlarmTopic"), &awssns.TopicProps{
		TopicName:   jsii.String(resourceName(cfg, "alarms")),
		DisplayName: jsii.String("JobWeaver " + cfg.Stage + " alarms"),
		EnforceSSL:  jsii.Bool(true),
	})
	// EnforceSSL gives the topic a policy of its own, which replaces SNS's
	// default one (the owner's Allow): CloudWatch then needs its own Allow
	// to publish, limited to this stage's alarms (confused deputy).
	o.Topic.AddToResourcePolicy(alarmPublishStatement(cfg, o.Topic))
	if cfg.AlarmEmail != "" {
		o.Topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(cfg.AlarmEmail), nil))
	}
	action := awscloudwatchactions.NewSnsAction(o.Topic)
	a := cfg.Alarms
	alarm := func(short, description string, metric awscloudwatch.IMetric, threshold float64, periods float64, op awscloudwatch.ComparisonOperator) {
		al := awscloudwatch.NewAlarm(c, jsii.String("Alarm"+title(short)), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(resourceName(cfg, short)),
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(periods),
			DatapointsToAlarm:  jsii.Number(periods),
			ComparisonOperator: op,
			// The platform's metrics are published only when something
			// happens: silence is health.
			TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		al.AddAlarmAction(action)
		al.AddOkAction(action)
		o.Alarms[short] = al
	}
	gt := awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD
	ge := awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD

	// Dead letters: any arrival above the threshold in 5 minutes.
	alarm("dead-letters-stored", fmt.Sprintf("More than %d dead letters stored by the dlq function in 5 minutes", a.DeadLetters),
		jw("DeadLettersStored", "dlq", "Sum", 5, ""), float64(a.DeadLetters), 1, gt)
	alarm("jobs-dead-lettered", fmt.Sprintf("More than %d jobs gave up (retries exhausted or permanent failure) in 5 minutes", a.DeadLetters),
		jw("JobsDeadLettered", "scheduler", "Sum", 5, ""), float64(a.DeadLetters), 1, gt)

	// Failure rate: failed attempts per dispatched attempt over 15 minutes.
	failureRate := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("IF(dispatched > 0, 100 * FILL(failed, 0) / dispatched, 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"failed":     jw("JobsFailed", "scheduler", "Sum", 15, ""),
			"dispatched": jw("JobsDispatched", "scheduler", "Sum", 15, ""),
		},
		Label:  jsii.String("failure rate (%)"),
		Period: awscdk.Duration_Minutes(jsii.Number(15)),
	})
	alarm("failure-rate", fmt.Sprintf("JobsFailed / JobsDispatched above %d%% over 15 minutes", a.FailureRatePercent),
		failureRate, float64(a.FailureRatePercent), 1, gt)

	// Outboxes that do not drain: the smallest backlog seen in each of 3
	// consecutive 5-minute periods stays at or above the threshold.
	for _, svc := range []string{"scheduler", "worker"} {
		alarm("outbox-backlog-"+svc, fmt.Sprintf("The %s outbox has kept at least %d unpublished rows for 15 minutes (broker or relay trouble)", svc, a.OutboxBacklog),
			jw("OutboxBacklog", svc, "Minimum", 5, ""), float64(a.OutboxBacklog), 3, ge)
	}
	// Outbox rows the broker refused for good (too large, invalid) and
	// the relay parked: each is also a dead letter (OUTBOX_PARKED), but
	// the rows stay in outbox_parked until an operator deletes them.
	for _, svc := range []string{"scheduler", "worker"} {
		alarm("outbox-parked-"+svc, fmt.Sprintf("The %s outbox holds rows the broker refused for good (outbox_parked table; a dead letter with reason OUTBOX_PARKED names each)", svc),
			jw("OutboxParked", svc, "Maximum", 5, ""), 1, 1, ge)
	}
	// Due work piling up, and the oldest due job waiting too long.
	alarm("due-backlog", fmt.Sprintf("More than %d due jobs for 15 minutes (dispatch is not keeping up, or SCHEDULER_MAX_IN_FLIGHT is reached)", a.DueBacklog),
		jw("DueBacklog", "scheduler", "Maximum", 5, ""), float64(a.DueBacklog), 3, gt)
	alarm("oldest-due-age", fmt.Sprintf("A due job has waited more than %d seconds for dispatch, twice in a row", a.OldestDueAgeSeconds),
		jw("OldestDueAgeSeconds", "scheduler", "Maximum", 5, ""), float64(a.OldestDueAgeSeconds), 2, gt)

	// Functions: errors and throttles; the Kafka consumers' offset lag.
	for _, svc := range Services {
		fn := p.Functions.ByName[svc].Function
		alarm(svc+"-errors", fmt.Sprintf("The %s function failed more than %d invocations in 5 minutes", svc, a.FunctionErrors),
			fn.MetricErrors(opts("Sum", 5, "")), float64(a.FunctionErrors), 1, gt)
		alarm(svc+"-throttles", fmt.Sprintf("The %s function was throttled more than %d times in 5 minutes (reserved concurrency)", svc, a.FunctionThrottles),
			fn.MetricThrottles(opts("Sum", 5, "")), float64(a.FunctionThrottles), 1, gt)
	}
	for _, svc := range []string{"scheduler", "worker", "dlq"} {
		fn := p.Functions.ByName[svc].Function
		alarm(svc+"-offset-lag", fmt.Sprintf("The %s function's Kafka mappings are more than %d records behind for 15 minutes", svc, a.OffsetLag),
			fn.Metric(jsii.String("OffsetLag"), opts("Maximum", 5, "")), float64(a.OffsetLag), 3, gt)
	}
	// A mapping gave up on a batch: the dlq stores it and replays it, but
	// it means the platform failed for a long while; and a failure the dlq
	// cannot replay stays in the queue.
	alarm("mapping-failures", "An event-source mapping gave up on a Kafka batch: the dlq stores it (reason MAPPING_FAILURE) and produces its records again; find why the batch kept failing",
		p.Functions.OnFailure.MetricNumberOfMessagesSent(opts("Sum", 5, "")), 0, 1, gt)
	alarm("mapping-failures-stuck", "A batch a mapping gave up on has waited more than 15 minutes in the mapping-failures queue: the dlq cannot store or replay it (see its log)",
		p.Functions.OnFailure.MetricApproximateAgeOfOldestMessage(opts("Maximum", 5, "")), 900, 1, gt)

	// Database.
	db := p.Data.Instance
	alarm("rds-cpu", fmt.Sprintf("Postgres CPU above %d%% for 15 minutes", a.RDSCPUPercent),
		db.MetricCPUUtilization(opts("Average", 5, "")), float64(a.RDSCPUPercent), 3, gt)
	connLimit := float64(cfg.Database.MaxConnections*a.RDSConnectionsPercent) / 100
	alarm("rds-connections", fmt.Sprintf("Postgres connections above %d%% of max_connections (%d), twice in a row", a.RDSConnectionsPercent, cfg.Database.MaxConnections),
		db.MetricDatabaseConnections(opts("Maximum", 5, "")), connLimit, 2, gt)

	o.Dashboard = newDashboard(c, cfg, p, o, failureRate)
	return o
}

// newDashboard lays out the pipeline left to right, row by row.
func newDashboard(c constructs.Construct, cfg Config, p ObservabilityProps, o *Observability, failureRate awscloudwatch.IMetric) awscloudwatch.Dashboard {
	d := awscloudwatch.NewDashboard(c, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String(resourceName(cfg, "pipeline")),
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
	})
	graph := func(title string, width float64, left []awscloudwatch.IMetric, right ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		props := &awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Width: jsii.Number(width), Height: jsii.Number(6), Left: &left}
		if len(right) > 0 {
			props.Right = &right
		}
		return awscloudwatch.NewGraphWidget(props)
	}
	ms := func(m ...awscloudwatch.IMetric) []awscloudwatch.IMetric { return m }
	text := func(md string) awscloudwatch.IWidget {
		return awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{Markdown: jsii.String(md), Width: jsii.Number(24), Height: jsii.Number(1)})
	}

	d.AddWidgets(text("**Pipeline** — submitted (api) → dispatched (scheduler) → completed / failed (worker → scheduler) → dead-lettered (dlq). Counts per minute."))
	d.AddWidgets(
		graph("1 · Submitted", 6, ms(jw("JobsSubmitted", "api", "Sum", 1, "submitted"))),
		graph("2 · Dispatched", 6, ms(jw("JobsDispatched", "scheduler", "Sum", 1, "dispatched"), jw("JobsRetried", "scheduler", "Sum", 1, "retries scheduled"))),
		graph("3 · Completed / failed", 6, ms(
			jw("JobsCompleted", "scheduler", "Sum", 1, "completed"),
			jw("JobsFailed", "scheduler", "Sum", 1, "failed attempts"),
			jw("AttemptsSucceeded", "worker", "Sum", 1, "worker attempts ok"),
			jw("AttemptsFailed", "worker", "Sum", 1, "worker attempts failed"))),
		graph("4 · Dead-lettered", 6, ms(
			jw("JobsDeadLettered", "scheduler", "Sum", 1, "dead-lettered"),
			jw("DeadLettersStored", "dlq", "Sum", 1, "stored by dlq"),
			jw("PoisonRecords", "scheduler", "Sum", 1, "poison (scheduler)"),
			jw("PoisonRecords", "worker", "Sum", 1, "poison (worker)"),
			jw("PoisonRecords", "dlq", "Sum", 1, "poison (dlq)"))),
	)
	d.AddWidgets(text("**Latency** — submit to dispatch, due to dispatch, and the run itself (ms)."))
	d.AddWidgets(
		graph("Fresh job wait (submit → dispatch)", 8, ms(jw("FreshJobWait", "scheduler", "p50", 1, "p50"), jw("FreshJobWait", "scheduler", "p99", 1, "p99"))),
		graph("Dispatch latency (due → dispatch)", 8, ms(jw("DispatchLatency", "scheduler", "p50", 1, "p50"), jw("DispatchLatency", "scheduler", "p99", 1, "p99"))),
		graph("Execution duration", 8, ms(jw("ExecutionDuration", "worker", "p50", 1, "p50"), jw("ExecutionDuration", "worker", "p99", 1, "p99"), jw("ExecutionDuration", "worker", "Maximum", 1, "max"))),
	)
	d.AddWidgets(text("**Backlog and lag** — due jobs, unpublished outbox rows, Kafka offset lag per consumer, failure rate."))
	lag := []awscloudwatch.IMetric{}
	for _, svc := range []string{"scheduler", "worker", "dlq"} {
		lag = append(lag, p.Functions.ByName[svc].Function.Metric(jsii.String("OffsetLag"), opts("Maximum", 1, svc)))
	}
	d.AddWidgets(
		graph("Due backlog", 6, ms(jw("DueBacklog", "scheduler", "Maximum", 1, "due jobs")), jw("OldestDueAgeSeconds", "scheduler", "Maximum", 1, "oldest due (s)")),
		graph("Outbox backlog", 6, ms(jw("OutboxBacklog", "scheduler", "Maximum", 1, "scheduler"), jw("OutboxBacklog", "worker", "Maximum", 1, "worker"))),
		graph("Offset lag (records)", 6, lag),
		graph("Failure rate (%)", 6, ms(failureRate)),
	)
	d.AddWidgets(text("**Functions** — invocations, errors and throttles, p99 duration, batch sizes."))
	var inv, errs, dur []awscloudwatch.IMetric
	for _, svc := range Services {
		f := p.Functions.ByName[svc].Function
		inv = append(inv, f.MetricInvocations(opts("Sum", 1, svc)))
		errs = append(errs, f.MetricErrors(opts("Sum", 1, svc+" errors")), f.MetricThrottles(opts("Sum", 1, svc+" throttles")))
		dur = append(dur, f.MetricDuration(opts("p99", 1, svc)))
	}
	d.AddWidgets(
		graph("Invocations", 6, inv),
		graph("Errors and throttles", 6, errs),
		graph("Duration p99 (ms)", 6, dur),
		graph("Batch size (records)", 6, ms(
			jw("BatchSize", "scheduler", "Average", 1, "scheduler"),
			jw("BatchSize", "worker", "Average", 1, "worker"),
			jw("BatchSize", "dlq", "Average", 1, "dlq"))),
	)
	db := p.Data.Instance
	d.AddWidgets(text("**Platform** — Postgres, the HTTP API, the mappings' failure queue."))
	d.AddWidgets(
		graph("Postgres CPU (%) and connections", 8, ms(db.MetricCPUUtilization(opts("Average", 1, "CPU"))), db.MetricDatabaseConnections(opts("Maximum", 1, "connections"))),
		graph("HTTP API requests and 5xx", 8, ms(p.API.HttpApi.MetricCount(opts("Sum", 1, "requests")), p.API.HttpApi.MetricServerError(opts("Sum", 1, "5xx"))), p.API.HttpApi.MetricLatency(opts("p99", 1, "latency p99 (ms)"))),
		graph("Mapping failures", 8, ms(p.Functions.OnFailure.MetricNumberOfMessagesSent(opts("Sum", 1, "batches given up")),
			jw("RecordsReplayed", "dlq", "Sum", 1, "records replayed by the dlq"),
			p.Functions.OnFailure.MetricApproximateNumberOfMessagesVisible(opts("Maximum", 1, "waiting in the queue")))),
	)
	alarms := make([]interfacesawscloudwatch.IAlarmRef, 0, len(o.Alarms))
	for _, k := range sortedKeys(o.Alarms) {
		alarms = append(alarms, o.Alarms[k])
	}
	d.AddWidgets(awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
		Title: jsii.String("Alarms"), Alarms: &alarms, Width: jsii.Number(24), Height: jsii.Number(4),
	}))
	return d
}
