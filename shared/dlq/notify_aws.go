package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/jobweaver/jobweaver/shared/dbsecret"
)

// LoadWebhookSecret reads cfg.Notify.WebhookSecretARN (if set, with a
// webhook URL and no secret given) from Secrets Manager into cfg.Notify.WebhookSecret,
// with a client from the default AWS configuration. A function's main
// calls it once at cold start, before New; the secret is never logged.
func LoadWebhookSecret(ctx context.Context, cfg *Config) error {
	if cfg.Notify.WebhookSecretARN == "" || cfg.Notify.WebhookSecret != "" || cfg.Notify.WebhookURL == "" {
		return nil
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("config: DLQ_WEBHOOK_SECRET_ARN: load AWS configuration: %w", err)
	}
	return loadWebhookSecret(ctx, secretsmanager.NewFromConfig(awsCfg), cfg)
}

// loadWebhookSecret is LoadWebhookSecret with a given client. The secret
// is the secret's whole string (the stack generates one), or, for a JSON
// secret, its "secret" field.
func loadWebhookSecret(ctx context.Context, g dbsecret.Getter, cfg *Config) error {
	arn := cfg.Notify.WebhookSecretARN
	out, err := g.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
	if err != nil {
		return fmt.Errorf("config: DLQ_WEBHOOK_SECRET_ARN: read secret %s: %w", arn, err)
	}
	if out.SecretString == nil {
		return fmt.Errorf("config: DLQ_WEBHOOK_SECRET_ARN: secret %s has no string value", arn)
	}
	secret := strings.TrimSpace(*out.SecretString)
	if strings.HasPrefix(secret, "{") {
		var doc struct {
			Secret string `json:"secret"`
		}
		if err := json.Unmarshal([]byte(secret), &doc); err != nil || doc.Secret == "" {
			return errors.New("config: DLQ_WEBHOOK_SECRET_ARN: secret " + arn + " is JSON without a \"secret\" field")
		}
		secret = doc.Secret
	}
	if len(secret) < MinWebhookSecretLen {
		return fmt.Errorf("config: DLQ_WEBHOOK_SECRET_ARN: secret %s must be at least %d bytes (got %d)", arn, MinWebhookSecretLen, len(secret))
	}
	cfg.Notify.WebhookSecret = secret
	return nil
}
