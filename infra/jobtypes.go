package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// WebhookSigningKeys holds the keys that WEBHOOK jobs sign their
// deliveries with (docs/job-types.md): a Secrets Manager secret whose
// value is a JSON object of name → key, made at deploy with one generated
// key, "default" (48 letters and digits). Jobs name a key
// (payload.signingKey), never carry it. The worker reads the secret once
// at cold start (WEBHOOK_SIGNING_KEYS_SECRET_ARN, worker.LoadSigningKeys)
// and may only read it. Add a key by putting a new value with another
// name beside "default"; the workers see it at their next cold start.
type WebhookSigningKeys struct {
	constructs.Construct
	Secret awssecretsmanager.Secret
}

// NewWebhookSigningKeys adds the secret, the worker's variable and its
// grant.
func NewWebhookSigningKeys(scope constructs.Construct, id string, cfg Config, fns *Functions) *WebhookSigningKeys {
	c := constructs.NewConstruct(scope, jsii.String(id))
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.RetainData {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	secret := awssecretsmanager.NewSecret(c, jsii.String("Secret"), &awssecretsmanager.SecretProps{
		SecretName:  retainedName(resourceName(cfg, "webhook-signing-keys")),
		Description: jsii.String("JobWeaver " + cfg.Stage + ": the keys WEBHOOK jobs sign X-JobWeaver-Signature with, as {\"name\": \"key\"}; payload.signingKey names one"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			SecretStringTemplate: jsii.String("{}"),
			GenerateStringKey:    jsii.String("default"),
			PasswordLength:       jsii.Number(48),
			ExcludePunctuation:   jsii.Bool(true),
		},
		RemovalPolicy: removal,
	})
	fn := fns.ByName["worker"].Function
	fn.AddEnvironment(jsii.String("WEBHOOK_SIGNING_KEYS_SECRET_ARN"), secret.SecretArn(), nil)
	secret.GrantRead(fn, nil)
	return &WebhookSigningKeys{Construct: c, Secret: secret}
}
