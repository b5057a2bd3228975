// Package adminkey keeps a deployed stage's first admin API key in a
// Secrets Manager secret (apiauth.AdminKeySecretName; the secret's value
// is the key alone, jw_...).
//
// The stack makes the secret with a random value that is no API key:
// Secrets Manager's generator cannot make the jw_ format with its
// checksum (shared/auth). At each deploy the provisioning function
// (shared/provision) calls Ensure, which writes a new key when the secret
// holds none and leaves a valid one alone. The api function calls Read at
// cold start (API_ADMIN_KEY_SECRET_ARN) and hands the key to the api as
// API_ADMIN_KEY would, which stores its hash as an admin key.
//
// Neither function logs the key, and no error here holds it.
package adminkey

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/jobweaver/jobweaver/shared/auth"
)

// Getter is the Secrets Manager call Read makes.
type Getter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Store is the Secrets Manager calls Ensure makes.
type Store interface {
	Getter
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// ErrNoKey is Read's error when the secret holds no valid API key.
var ErrNoKey = errors.New("the secret holds no API key (jw_... with a valid checksum): the deploy fills it")

// value reads the secret's string, trimmed.
func value(ctx context.Context, sm Getter, arn string) (string, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("adminkey: read secret %s: %w", arn, err)
	}
	return strings.TrimSpace(aws.ToString(out.SecretString)), nil
}

// Read returns the key the secret arn holds; ErrNoKey (wrapped) when its
// value is not a valid key.
func Read(ctx context.Context, sm Getter, arn string) (string, error) {
	v, err := value(ctx, sm, arn)
	if err != nil {
		return "", err
	}
	if !auth.Valid(v) {
		return "", fmt.Errorf("adminkey: secret %s: %w", arn, ErrNoKey)
	}
	return v, nil
}

// Ensure makes the secret arn hold a valid key: it keeps the one there, or
// generates one (auth.Generate) and writes it as the secret's new current
// version. made reports whether it wrote one.
func Ensure(ctx context.Context, sm Store, arn string) (made bool, err error) {
	v, err := value(ctx, sm, arn)
	if err != nil {
		return false, err
	}
	if auth.Valid(v) {
		return false, nil
	}
	key, err := auth.Generate()
	if err != nil {
		return false, err
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(key)}); err != nil {
		return false, fmt.Errorf("adminkey: write secret %s: %w", arn, err)
	}
	return true, nil
}
