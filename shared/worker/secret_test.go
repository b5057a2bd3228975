package worker_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/jobweaver/jobweaver/shared/worker"
)

// secretGetter answers GetSecretValue with a fixed value (Secrets Manager
// has no local stand-in in this repository's tests).
type secretGetter struct {
	value *string
	err   error
}

func (g secretGetter) GetSecretValue(_ context.Context, _ *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return &secretsmanager.GetSecretValueOutput{SecretString: g.value}, g.err
}

func TestLoadSigningKeys(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:jobweaver-dev-webhook-keys"
	for _, c := range []struct {
		name  string
		g     secretGetter
		env   map[string][]byte
		want  []string // key names, or
		error string   // a part of the error
	}{
		{"JSON object", secretGetter{value: aws.String(`{"a":"0123456789abcdef","b":"fedcba9876543210"}`)}, nil, []string{"a", "b"}, ""},
		{"pairs", secretGetter{value: aws.String("a=0123456789abcdef\n")}, nil, []string{"a"}, ""},
		{"merged with the environment's", secretGetter{value: aws.String(`{"a":"0123456789abcdef"}`)}, map[string][]byte{"e": []byte("0123456789abcdef")}, []string{"a", "e"}, ""},
		{"name in both", secretGetter{value: aws.String(`{"e":"0123456789abcdef"}`)}, map[string][]byte{"e": []byte("x")}, nil, `"e" is also in WEBHOOK_SIGNING_KEYS`},
		{"short secret", secretGetter{value: aws.String(`{"a":"short-secret"}`)}, nil, nil, "16 to 1024 bytes"},
		{"not an object of strings", secretGetter{value: aws.String(`{"a":1}`)}, nil, nil, "not a JSON object"},
		{"binary", secretGetter{}, nil, nil, "no string value"},
		{"denied", secretGetter{err: errors.New("AccessDeniedException")}, nil, nil, "AccessDeniedException"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := worker.Config{SigningKeysSecretARN: arn, SigningKeys: c.env}
			err := worker.LoadSigningKeysWith(context.Background(), c.g, &cfg)
			if c.error != "" {
				if err == nil || !strings.Contains(err.Error(), c.error) || !strings.Contains(err.Error(), "WEBHOOK_SIGNING_KEYS") ||
					strings.Contains(err.Error(), "0123456789abcdef") || strings.Contains(err.Error(), "short-secret") {
					t.Fatalf("err = %v; want one containing %q, naming the variable and no secret", err, c.error)
				}
				return
			}
			if err != nil || len(cfg.SigningKeys) != len(c.want) {
				t.Fatalf("keys %v, %v; want %v", cfg.SigningKeys, err, c.want)
			}
			for _, n := range c.want {
				if len(cfg.SigningKeys[n]) < 16 {
					t.Errorf("key %s = %q", n, cfg.SigningKeys[n])
				}
			}
		})
	}
	cfg := worker.Config{}
	if err := worker.LoadSigningKeys(context.Background(), &cfg); err != nil || cfg.SigningKeys != nil {
		t.Fatalf("without an ARN: %v %v", cfg.SigningKeys, err)
	}
}
