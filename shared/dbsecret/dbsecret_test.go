package dbsecret

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

type fake struct {
	value *string
	err   error
}

func (f fake) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return &secretsmanager.GetSecretValueOutput{SecretString: f.value}, f.err
}

func str(s string) *string { return &s }

func TestApply(t *testing.T) {
	cases := []struct {
		name, dsn string
		g         fake
		want, err string
	}{
		{"fills user, password and db", "postgres://db.internal:5432?sslmode=require",
			fake{value: str(`{"username":"api","password":"p@ss/w:rd","dbname":"jobweaver_api"}`)},
			"postgres://api:p%40ss%2Fw%3Ard@db.internal:5432/jobweaver_api?sslmode=require", ""},
		{"keeps the URL's user and database", "postgres://svc@db:5432/mine",
			fake{value: str(`{"username":"api","password":"x","dbname":"other"}`)},
			"postgres://svc:x@db:5432/mine", ""},
		{"no password", "postgres://db/x", fake{value: str(`{"username":"api"}`)}, "", "has no password"},
		{"not JSON", "postgres://db/x", fake{value: str(`nope`)}, "", "not JSON"},
		{"binary secret", "postgres://db/x", fake{}, "", "no string value"},
		{"API error", "postgres://db/x", fake{err: errors.New("AccessDenied")}, "", "AccessDenied"},
		{"keyword DSN", "host=db dbname=x", fake{value: str(`{"username":"a","password":"b"}`)}, "", "postgres:// URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Apply(context.Background(), c.g, "arn:aws:secretsmanager:us-east-1:1:secret:s", c.dsn)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Apply = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}
