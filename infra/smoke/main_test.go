package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/apiauth"
	"github.com/jobweaver/jobweaver/shared/apiauth/apiauthtest"
	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/jwttest"
	"github.com/jobweaver/jobweaver/shared/stacktest"
)

// awsEnv points the AWS SDK at fakes, with test credentials.
func awsEnv(t *testing.T, endpoints map[string]string) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	for _, k := range []string{"STAGE", "CLIENT", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}
	for k, v := range endpoints {
		t.Setenv(k, v)
	}
}

// cloudFormation serves DescribeStacks (the AWS query protocol) for one
// stack with the given outputs.
func cloudFormation(t *testing.T, stack string, outputs map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm() // a malformed form leaves r.Form empty: the fake answers ValidationError
		if r.Form.Get("Action") != "DescribeStacks" || r.Form.Get("StackName") != stack {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id %s does not exist</Message></Error><RequestId>1</RequestId></ErrorResponse>`, r.Form.Get("StackName"))
			return
		}
		var b strings.Builder
		for k, v := range outputs {
			fmt.Fprintf(&b, `<member><OutputKey>%s</OutputKey><OutputValue>%s</OutputValue></member>`, k, v)
		}
		fmt.Fprintf(w, `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>`+
			`<StackName>%s</StackName><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-11-29T10:00:00Z</CreationTime><Outputs>%s</Outputs>`+
			`</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>`, stack, b.String())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// failedRow is a table row whose result column says FAIL.
var failedRow = regexp.MustCompile(`(?m)^.{34} FAIL `)

func TestSmoke(t *testing.T) {
	// A local stack with auth on as in AWS (API_AUTH=keys,jwt, the scope
	// roles of the stack), trusting a local issuer whose tokens the fake
	// token endpoint hands out as Cognito's does for the client
	// credentials grant (no aud; client_id and scope).
	issuer := jwttest.New(t)
	adminKey, err := auth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	s := stacktest.Start(t, stacktest.Config(t, "smoke", map[string]string{
		"TICK_INTERVAL": "50ms", "ESM_BATCH_WINDOW": "1ms",
		"API_AUTH": "keys,jwt", "API_ADMIN_KEY": adminKey,
		"AUTH_JWT_ISSUER": issuer.URL, "AUTH_JWT_AUDIENCE": "cid", "AUTH_JWT_SCOPE_ROLES": apiauth.ScopeRoles,
	}))
	tokens := apiauthtest.TokenEndpointFunc(t, "cid", "s3cret", func(scope string) string {
		return issuer.Sign(t, issuer.Claims("cid", "", map[string]any{"aud": nil, "client_id": "cid", "scope": scope, "token_use": "access"}))
	}, apiauth.ScopeRead, apiauth.ScopeWrite)
	creds, _ := json.Marshal(apiauth.Client{ClientID: "cid", ClientSecret: "s3cret", TokenURL: tokens.URL, Scope: apiauth.ScopeRead + " " + apiauth.ScopeWrite})
	readOnly, _ := json.Marshal(apiauth.Client{ClientID: "cid", ClientSecret: "s3cret", TokenURL: tokens.URL, Scope: apiauth.ScopeRead})
	sm := apiauthtest.SecretsManager(t, map[string]string{
		apiauth.SecretName("dev", "operator"):   string(creds),
		apiauth.SecretName("dev", "reader"):     string(readOnly),
		apiauth.AdminKeySecretName("dev"):       adminKey,
		apiauth.SecretName("nokey", "operator"): string(creds),
	})
	cf := cloudFormation(t, "JobWeaver-dev", map[string]string{"ApiUrl": s.APIURL + "/", "TokenUrl": tokens.URL})
	cfNoKey := cloudFormation(t, "JobWeaver-nokey", map[string]string{"ApiUrl": s.APIURL + "/", "TokenUrl": tokens.URL})
	awsEnv(t, map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL, "AWS_ENDPOINT_URL_CLOUDFORMATION": cf.URL, "API_ADMIN_KEY": ""})

	cases := []struct {
		name   string
		args   []string
		cf     string // the CloudFormation fake, if not cf
		code   int
		checks int      // rows in the table
		want   []string // in stdout or stderr
	}{
		{"a stage from its stack outputs, with a token and its admin key", []string{"-stage", "dev", "-wait", "1m"}, "", 0, 12,
			[]string{"refuses a call without a token", "403 API.FORBIDDEN", "refuses it within 10s", "finds it in the DLQ", "token: true, admin key: true"}},
		{"a local stack with an admin key", []string{"-url", s.APIURL, "-no-token", "-admin-key", adminKey, "-wait", "1m"}, "", 0, 12,
			[]string{"revokes the viewer key", "finds it in the DLQ", "token: false, admin key: true"}},
		{"a local stack without credentials", []string{"-url", s.APIURL, "-no-token", "-wait", "5s"}, "", 1, 2,
			[]string{"(the token is missing, expired or not from this stage: make token)"}},
		{"a read-only token cannot submit", []string{"-stage", "dev", "-client", "reader", "-wait", "5s"}, "", 1, 8,
			[]string{"POST /api/jobs = 403, want 202 (the credential's role is below the route's"}},
		{"a stage whose admin key is not readable", []string{"-stage", "nokey"}, cfNoKey.URL, 1, 0, []string{"jobweaver-nokey/api-admin-key"}},
		{"a stage that is not deployed", []string{"-stage", "prod"}, "", 1, 0, []string{"read stack JobWeaver-prod"}},
		{"an app client the stage lacks", []string{"-stage", "dev", "-client", "ci"}, "", 1, 0, []string{"jobweaver-dev/api-clients/ci"}},
		{"a stray argument", []string{"dev"}, "", 2, 0, []string{`unexpected argument "dev"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.cf != "" {
				t.Setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", c.cf)
			}
			var out, errs bytes.Buffer
			code := run(context.Background(), c.args, &out, &errs)
			all := out.String() + errs.String()
			if code != c.code {
				t.Fatalf("exit %d (want %d):\n%s", code, c.code, all)
			}
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Fatalf("output without %q:\n%s", w, all)
				}
			}
			if strings.Contains(all, adminKey) {
				t.Fatalf("the output holds the admin key:\n%s", all)
			}
			if rows := strings.Count(out.String(), "\n") - 1; c.checks > 0 && rows != c.checks {
				t.Fatalf("%d checks in the table, want %d:\n%s", rows, c.checks, out.String())
			}
			t.Log("\n" + out.String())
			if c.code == 0 && failedRow.MatchString(out.String()) {
				t.Fatalf("a check failed:\n%s", out.String())
			}
		})
	}
}
