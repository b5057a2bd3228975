package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// DLQNotifications wires the dlq function's notifications of new dead
// letters (shared/dlq notify.go):
//   - the alarm topic gets a short message per batch: DLQ_SNS_TOPIC_ARN,
//     and sns:Publish on that topic only;
//   - the webhook's signing key is a generated Secrets Manager secret:
//     DLQ_WEBHOOK_SECRET_ARN, read once at cold start and only when
//     DLQ_WEBHOOK_URL is set (functions.dlq.env in the stage's context).
//     Receivers get the key from the secret (its value is the key).
//
// The webhook needs a route out of the VPC (network.natGateways > 0);
// SNS is reached through its interface endpoint (Network).
type DLQNotifications struct {
	constructs.Construct
	WebhookSecret awssecretsmanager.Secret
}

// NewDLQNotifications adds the secret, the dlq function's variables and
// its grants.
func NewDLQNotifications(scope constructs.Construct, id string, cfg Config, fns *Functions, topic awssns.ITopic) *DLQNotifications {
	c := constructs.NewConstruct(scope, jsii.String(id))
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.RetainData {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	secret := awssecretsmanager.NewSecret(c, jsii.String("WebhookSecret"), &awssecretsmanager.SecretProps{
		SecretName:  retainedName(resourceName(cfg, "dlq-webhook")),
		Description: jsii.String("JobWeaver " + cfg.Stage + ": the key of the dlq webhook's X-JobWeaver-Signature (HMAC-SHA256)"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(48),
			ExcludePunctuation: jsii.Bool(true),
		},
		RemovalPolicy: removal,
	})
	fn := fns.ByName["dlq"].Function
	fn.AddEnvironment(jsii.String("DLQ_SNS_TOPIC_ARN"), topic.TopicArn(), nil)
	fn.AddEnvironment(jsii.String("DLQ_WEBHOOK_SECRET_ARN"), secret.SecretArn(), nil)
	topic.GrantPublish(fn)
	secret.GrantRead(fn, nil)
	return &DLQNotifications{Construct: c, WebhookSecret: secret}
}
