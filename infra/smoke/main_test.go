package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/apiauth"
	"github.com/jobweaver/jobweaver/shared/apiauth/apiauthtest"
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

// authorizer stands in for API Gateway's JWT authorizer in front of the
// api: /api/... needs the token the fake token endpoint issues.
func authorizer(t *testing.T, api, token string) *httptest.Server {
	u, err := url.Parse(api)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") && r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Unauthorized"}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
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
	s := stacktest.Start(t, stacktest.Config(t, "smoke", map[string]string{"TICK_INTERVAL": "50ms", "ESM_BATCH_WINDOW": "1ms"}))

	const token = "tok:jobweaver/read jobweaver/write"
	guarded := authorizer(t, s.APIURL, token)
	tokens := apiauthtest.TokenEndpoint(t, "cid", "s3cret", apiauth.ScopeRead, apiauth.ScopeWrite)
	creds, _ := json.Marshal(apiauth.Client{ClientID: "cid", ClientSecret: "s3cret", TokenURL: tokens.URL, Scope: apiauth.ScopeRead + " " + apiauth.ScopeWrite})
	sm := apiauthtest.SecretsManager(t, map[string]string{apiauth.SecretName("dev", "operator"): string(creds)})
	cf := cloudFormation(t, "JobWeaver-dev", map[string]string{"ApiUrl": guarded.URL + "/", "TokenUrl": tokens.URL})
	awsEnv(t, map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL, "AWS_ENDPOINT_URL_CLOUDFORMATION": cf.URL})

	cases := []struct {
		name   string
		args   []string
		code   int
		checks int    // rows in the table
		want   string // in stdout or stderr
	}{
		{"a stage from its stack outputs, with a token", []string{"-stage", "dev", "-wait", "1m"}, 0, 7, "refuses a call without a token"},
		{"a local stack without a token", []string{"-url", s.APIURL, "-no-token", "-wait", "1m"}, 0, 6, "finds it in the DLQ"},
		{"a guarded API without a token", []string{"-url", guarded.URL, "-no-token", "-wait", "5s"}, 1, 2, "(the token is missing, expired or not from this stage: make token)"},
		{"a stage that is not deployed", []string{"-stage", "prod"}, 1, 0, "read stack JobWeaver-prod"},
		{"an app client the stage lacks", []string{"-stage", "dev", "-client", "ci"}, 1, 0, "jobweaver-dev/api-clients/ci"},
		{"a stray argument", []string{"dev"}, 2, 0, `unexpected argument "dev"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			code := run(context.Background(), c.args, &out, &errs)
			all := out.String() + errs.String()
			if code != c.code || !strings.Contains(all, c.want) {
				t.Fatalf("exit %d (want %d), output without %q:\n%s", code, c.code, c.want, all)
			}
			if rows := strings.Count(out.String(), "\n") - 1; c.checks > 0 && rows != c.checks {
				t.Fatalf("%d checks in the table, want %d:\n%s", rows, c.checks, out.String())
			}
			if c.code == 0 && failedRow.MatchString(out.String()) {
				t.Fatalf("a check failed:\n%s", out.String())
			}
		})
	}
}
