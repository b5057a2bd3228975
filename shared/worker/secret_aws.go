package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/jobweaver/jobweaver/shared/dbsecret"
)

// LoadSigningKeys reads cfg.SigningKeysSecretARN, if set, from Secrets
// Manager into cfg.SigningKeys, with a client from the default AWS
// configuration. The worker's main calls it once at cold start, before
// New; no secret is ever logged or put in an error.
func LoadSigningKeys(ctx context.Context, cfg *Config) error {
	if cfg.SigningKeysSecretARN == "" {
		return nil
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("config: WEBHOOK_SIGNING_KEYS_SECRET_ARN: load AWS configuration: %w", err)
	}
	return LoadSigningKeysWith(ctx, secretsmanager.NewFromConfig(awsCfg), cfg)
}

// LoadSigningKeysWith is LoadSigningKeys with a given client. The secret's
// string is a JSON object {"name": "secret", ...} (Secrets Manager's
// key/value form) or name=secret pairs as in WEBHOOK_SIGNING_KEYS. A name
// also in WEBHOOK_SIGNING_KEYS is an error.
func LoadSigningKeysWith(ctx context.Context, g dbsecret.Getter, cfg *Config) error {
	arn := cfg.SigningKeysSecretARN
	if arn == "" {
		return nil
	}
	out, err := g.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
	if err != nil {
		return fmt.Errorf("config: WEBHOOK_SIGNING_KEYS_SECRET_ARN: read secret %s: %w", arn, err)
	}
	if out.SecretString == nil {
		return fmt.Errorf("config: WEBHOOK_SIGNING_KEYS_SECRET_ARN: secret %s has no string value", arn)
	}
	v := strings.TrimSpace(*out.SecretString)
	var keys map[string][]byte
	if strings.HasPrefix(v, "{") {
		var doc map[string]string
		if err := json.Unmarshal([]byte(v), &doc); err != nil {
			return fmt.Errorf("config: WEBHOOK_SIGNING_KEYS_SECRET_ARN: secret %s is not a JSON object of name: secret strings", arn)
		}
		pairs := make([]string, 0, len(doc))
		for name, secret := range doc {
			if strings.Contains(secret, ",") || strings.Contains(name, ",") {
				return fmt.Errorf("config: WEBHOOK_SIGNING_KEYS_SECRET_ARN: key %q: names and secrets may not hold commas", name)
			}
			pairs = append(pairs, name+"="+secret)
		}
		v = strings.Join(pairs, ",")
	}
	keys, err = ParseSigningKeys(v)
	if err != nil {
		return fmt.Errorf("%w (from WEBHOOK_SIGNING_KEYS_SECRET_ARN %s)", err, arn)
	}
	if cfg.SigningKeys == nil {
		cfg.SigningKeys = map[string][]byte{}
	}
	for name, secret := range keys {
		if cfg.SigningKeys[name] != nil {
			return fmt.Errorf("config: WEBHOOK_SIGNING_KEYS_SECRET_ARN: key %q is also in WEBHOOK_SIGNING_KEYS", name)
		}
		cfg.SigningKeys[name] = secret
	}
	return nil
}
