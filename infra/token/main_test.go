package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/apiauth"
	"github.com/jobweaver/jobweaver/shared/apiauth/apiauthtest"
	"github.com/jobweaver/jobweaver/shared/auth"
)

// TestRun drives the command through the AWS SDK's configuration chain
// against a fake Secrets Manager endpoint and a fake token endpoint.
func TestRun(t *testing.T) {
	tokens := apiauthtest.TokenEndpoint(t, "cid", "s3cret", apiauth.ScopeRead, apiauth.ScopeWrite)
	creds, _ := json.Marshal(apiauth.Client{ClientID: "cid", ClientSecret: "s3cret", TokenURL: tokens.URL,
		Scope: apiauth.ScopeRead + " " + apiauth.ScopeWrite})
	key, err := auth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	sm := apiauthtest.SecretsManager(t, map[string]string{
		apiauth.SecretName("prod", "operator"): string(creds),
		apiauth.AdminKeySecretName("prod"):     key + "\n",
		apiauth.AdminKeySecretName("test"):     "aRandomPasswordNotYetAKey",
	})
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", sm.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	for _, k := range []string{"STAGE", "CLIENT", "SCOPE", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}

	cases := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stdout string // exact, or a substring for --json
		stderr string
	}{
		{"token for every scope", nil, []string{"-stage", "prod"}, 0, "tok:jobweaver/read jobweaver/write\n", ""},
		{"read scope from the environment", map[string]string{"STAGE": "prod", "SCOPE": "read"}, nil, 0, "tok:jobweaver/read\n", ""},
		{"json", nil, []string{"-stage", "prod", "-json"}, 0, `"token_type": "Bearer"`, ""},
		{"stage not deployed", nil, []string{"-stage", "dev"}, 1, "", "ResourceNotFoundException"},
		{"unknown client", nil, []string{"-stage", "prod", "-client", "ci"}, 1, "", "jobweaver-prod/api-clients/ci"},
		{"bad scope", nil, []string{"-scope", "admin"}, 2, "", "--scope must be read or write"},
		{"bad client name", nil, []string{"-client", "Ops"}, 2, "", "not an app client name"},
		{"stray argument", nil, []string{"prod"}, 2, "", `unexpected argument "prod"`},
		{"help", nil, []string{"-h"}, 0, "", "Usage: make token"},
		{"help names admin-key", nil, []string{"-help"}, 0, "", "make admin-key"},
		{"admin key", nil, []string{"-stage", "prod", "-admin-key"}, 0, key + "\n", ""},
		{"admin key of a stage from the environment", map[string]string{"STAGE": "prod"}, []string{"-admin-key"}, 0, key + "\n", ""},
		{"admin key not filled yet", nil, []string{"-stage", "test", "-admin-key"}, 1, "", "holds no API key (jw_...): the deploy fills it"},
		{"admin key of a stage not deployed", nil, []string{"-stage", "dev", "-admin-key"}, 1, "", "jobweaver-dev/api-admin-key"},
		{"admin key with a scope", nil, []string{"-admin-key", "-scope", "read"}, 2, "", "-admin-key prints the key alone"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var out, errs bytes.Buffer
			code := run(context.Background(), c.args, &out, &errs)
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, c.code, errs.String())
			}
			if c.stdout != "" && out.String() != c.stdout && !strings.Contains(out.String(), c.stdout) {
				t.Errorf("stdout %q, want %q", out.String(), c.stdout)
			}
			if c.code != 0 && out.Len() > 0 {
				t.Errorf("stdout %q on failure, want nothing", out.String())
			}
			if !strings.Contains(errs.String(), c.stderr) {
				t.Errorf("stderr %q, want it to contain %q", errs.String(), c.stderr)
			}
		})
	}
}
