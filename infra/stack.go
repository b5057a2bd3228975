package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/jobweaver/jobweaver/shared/apiauth"
)

// Stack is the whole deployment of one stage.
type Stack struct {
	awscdk.Stack
	Network       *Network
	Data          *Data
	Messaging     *Messaging
	Provisioning  *Provisioning
	Functions     *Functions
	Auth          *Auth
	API           *API
	Hosting       *DashboardHosting // nil without dashboardHosting
	Observability *Observability
	Notifications *DLQNotifications
	WebhookKeys   *WebhookSigningKeys
}

// StackName is the CloudFormation stack of a stage: JobWeaver-dev, ...
func StackName(stage string) string { return "JobWeaver-" + stage }

// NewStack builds a stage's stack in app. It looks nothing up (no
// account, no Vpc.fromLookup): synth runs offline without credentials.
func NewStack(scope constructs.Construct, cfg Config) *Stack {
	st := awscdk.NewStack(scope, jsii.String(StackName(cfg.Stage)), &awscdk.StackProps{
		Env:                   &awscdk.Environment{Region: jsii.String(cfg.Region)},
		Description:           jsii.String(fmt.Sprintf("JobWeaver %s: api, scheduler, worker and dlq functions on RDS Postgres and MSK", cfg.Stage)),
		TerminationProtection: jsii.Bool(cfg.RetainData),
	})
	awscdk.Tags_Of(st).Add(jsii.String("project"), jsii.String("jobweaver"), nil)
	awscdk.Tags_Of(st).Add(jsii.String("stage"), jsii.String(cfg.Stage), nil)

	s := &Stack{Stack: st}
	s.Network = NewNetwork(st, "Network", cfg)
	s.Data = NewData(st, "Data", cfg, s.Network)
	s.Messaging = NewMessaging(st, "Messaging", cfg, s.Network)
	s.Auth = NewAuth(st, "Auth", cfg)
	s.Provisioning = NewProvisioning(st, "Provisioning", cfg, s.Network, s.Data, s.Messaging, s.Auth)
	s.Functions = NewFunctions(st, "Functions", cfg, s.Network, s.Data, s.Messaging, s.Provisioning, s.Auth)
	s.API = NewAPI(st, "Api", cfg, s.Functions)
	if cfg.DashboardHosting {
		s.Hosting = NewDashboardHosting(st, "DashboardHosting", cfg, s.API)
	}
	s.Observability = NewObservability(st, "Observability", cfg, ObservabilityProps{Functions: s.Functions, Data: s.Data, API: s.API})
	s.Notifications = NewDLQNotifications(st, "DlqNotifications", cfg, s.Functions, s.Observability.Topic)
	s.WebhookKeys = NewWebhookSigningKeys(st, "WebhookSigningKeys", cfg, s.Functions)

	out := func(id, value, description string) {
		awscdk.NewCfnOutput(st, jsii.String(id), &awscdk.CfnOutputProps{Value: jsii.String(value), Description: jsii.String(description)})
	}
	out("ApiUrl", *s.API.Url, "The REST API's base URL: POST <ApiUrl>api/jobs")
	out("TokenUrl", *s.Auth.TokenUrl, "The OAuth 2.0 token endpoint (client credentials grant); make token asks it")
	out("UserPoolId", *s.Auth.UserPool.UserPoolId(), "The Cognito user pool whose app clients and users (groups viewer, operator, admin) may call the API")
	out("ApiClientSecrets", apiauth.SecretName(cfg.Stage, "<client>"), "Secrets Manager secrets with each app client's clientId, clientSecret, tokenUrl and scope")
	out("ApiAdminKeySecret", apiauth.AdminKeySecretName(cfg.Stage), "Secrets Manager secret with the first admin API key (jw_...); make admin-key prints it")
	if s.Hosting != nil {
		out("DashboardUrl", *s.Hosting.Url, "The web dashboard (CloudFront); /api/* reaches the API")
		out("DashboardBucket", *s.Hosting.Bucket.BucketName(), "Upload the dashboard's files here")
	}
	out("CloudWatchDashboard", resourceName(cfg, "pipeline"), "The CloudWatch dashboard of the pipeline")
	out("AlarmTopicArn", *s.Observability.Topic.TopicArn(), "SNS topic every alarm notifies, and the dlq for each batch of new dead letters")
	out("DlqWebhookSecret", *s.Notifications.WebhookSecret.SecretName(), "Secrets Manager secret whose value keys the DLQ webhook's X-JobWeaver-Signature")
	out("DatabaseEndpoint", *s.Data.Host, "Where the functions connect (the RDS Proxy if enabled)")
	out("KafkaClusterArn", *s.Messaging.ClusterArn, "The MSK cluster")
	out("MappingFailuresQueue", *s.Functions.OnFailure.QueueUrl(), "Kafka batches the event-source mappings gave up on")
	for _, svc := range Services {
		out(title(svc)+"FunctionName", *s.Functions.ByName[svc].Function.FunctionName(), "The "+svc+" function")
	}
	return s
}

// resourceName names a resource of the stage: jobweaver-<stage>-<what>.
func resourceName(cfg Config, what string) string { return "jobweaver-" + cfg.Stage + "-" + what }

// instanceSuffix is the first block of the stack's UUID (the last part of
// AWS::StackId), e.g. "51af3dc0": fixed for the life of a stack, new when
// a deleted stack is created again.
func instanceSuffix() *string {
	uuid := awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), awscdk.Aws_STACK_ID(), nil))
	return awscdk.Fn_Select(jsii.Number(0), awscdk.Fn_Split(jsii.String("-"), uuid, nil))
}

// retainedName names a resource that outlives its stack when retainData
// is set (a log group, a database secret): prefix + "-" + instanceSuffix(),
// so that a stack created again after a delete does not collide with what
// the deleted one left behind. Resources deleted with their stack keep
// plain resourceName names.
func retainedName(prefix string) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String(prefix + "-"), instanceSuffix()})
}

// title turns "job-dead-letter" into "JobDeadLetter", for construct IDs.
func title(s string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// retention maps days to CloudWatch Logs' allowed retention periods.
var retention = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// retentionDays returns the retention for days (Validate checked it).
func retentionDays(days int) awslogs.RetentionDays { return retention[days] }

// sortedKeys lists m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
