// Package dbsecret completes a database URL with the credentials of an AWS
// Secrets Manager secret, as the CDK stack stores them for each service:
// JSON {"username": …, "password": …, "dbname": …}. The functions'
// environment then never holds a password.
package dbsecret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Getter is the part of the Secrets Manager client Apply uses.
type Getter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Secret is a service's database secret.
type Secret struct {
	Username string `json:"username"`
	Password string `json:"password"`
	DBName   string `json:"dbname"`
}

// Apply reads the secret arn and returns dsn (a postgres:// URL) with the
// secret's password, and its username and database name where the URL has
// none.
func Apply(ctx context.Context, g Getter, arn, dsn string) (string, error) {
	out, err := g.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", arn, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("secret %s has no string value", arn)
	}
	var s Secret
	if err := json.Unmarshal([]byte(*out.SecretString), &s); err != nil {
		return "", fmt.Errorf("secret %s is not JSON {username, password, dbname}: %v", arn, err)
	}
	if s.Password == "" {
		return "", errors.New("secret " + arn + " has no password")
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("DATABASE_URL must be a postgres:// URL to take credentials from a secret")
	}
	user := s.Username
	if u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}
	if user == "" {
		return "", fmt.Errorf("neither DATABASE_URL nor secret %s names a user", arn)
	}
	u.User = url.UserPassword(user, s.Password)
	if (u.Path == "" || u.Path == "/") && s.DBName != "" {
		u.Path = "/" + s.DBName
	}
	return u.String(), nil
}

// FromAWS is Apply with a client from the default AWS configuration chain.
func FromAWS(ctx context.Context, arn, dsn string) (string, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return "", fmt.Errorf("load AWS configuration: %w", err)
	}
	return Apply(ctx, secretsmanager.NewFromConfig(cfg), arn, dsn)
}
