package main

// The stack's tests: assertions over the template each stage of cdk.json
// synthesizes, and a golden copy of each under testdata/ (go test ./infra
// -run TestGolden -update rewrites them). Every CDK test lives in this one
// package: each test binary that uses the CDK starts its own Node process.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/jobweaver/jobweaver/shared/apiauth"
	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/jwttest"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/oidcstatic"
)

var update = flag.Bool("update", false, "rewrite testdata/<stage>.template.json from the synthesized stacks")

// testAssets stands in for build/: <fn>/bootstrap for every function, so
// the stack synthesizes without `make build`; testDashboard for
// dashboard/dist (testdata/dashboard-dist). testOut is the apps' outdir.
var testAssets, testOut string

const testDashboard = "testdata/dashboard-dist"

func TestMain(m *testing.M) {
	// Setenv fails only on a malformed name; these only quiet jsii warnings.
	_ = os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	_ = os.Setenv("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
	code := func() int {
		dir, err := os.MkdirTemp("", "jobweaver-infra-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		testAssets, testOut = filepath.Join(dir, "build"), filepath.Join(dir, "cdk.out")
		for _, fn := range AllFunctions {
			if err := os.MkdirAll(filepath.Join(testAssets, fn), 0o755); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			// A stand-in bootstrap: the template does not depend on its
			// bytes except through the asset hash, which the golden
			// comparison normalizes.
			if err := os.WriteFile(filepath.Join(testAssets, fn, "bootstrap"), []byte("#!/bin/sh\necho "+fn+"\n"), 0o755); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		code := m.Run()
		jsii.Close()
		return code
	}()
	os.Exit(code)
}

// cdkContext is cdk.json's context: what `cdk synth` passes the app.
func cdkContext(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		App     string         `json:"app"`
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	if doc.App != "go run ./infra" {
		t.Errorf(`cdk.json: app is %q, want "go run ./infra"`, doc.App)
	}
	return doc.Context
}

// synthesized is one stage's stack and its template.
type synthesized struct {
	cfg      Config
	stack    *Stack
	template assertions.Template
	json     map[string]any
}

var (
	synthMu    sync.Mutex
	synthCache = map[string]*synthesized{}
)

// variants are the stacks the tests synthesize: each stage of cdk.json
// (prod also with an alarm e-mail, to check the subscription) and dev's
// other path: x86_64 functions.
var variants = map[string]struct {
	stage string
	edit  func(ctx map[string]any)
}{
	"dev":  {"dev", nil},
	"prod": {"prod", func(ctx map[string]any) { ctx["alarmEmail"] = "oncall@example.com" }},
	"dev-x86": {"dev", func(ctx map[string]any) {
		ctx["architecture"] = "x86_64"
		ctx["refresh"] = "42" // the deploy-time copies run again
		// Two app clients: the audience lists both.
		api := ctx["stages"].(map[string]any)["dev"].(map[string]any)["api"].(map[string]any)
		api["clients"] = map[string]any{"operator": []any{"read", "write"}, "reader": []any{"read"}}
	}},
}

// synth synthesizes a variant (a stage: "dev", "prod") from cdk.json's
// context, once per test binary, the way `cdk synth -c stage=<stage>`
// does, but with the test assets.
func synth(t *testing.T, variant string) *synthesized {
	t.Helper()
	synthMu.Lock()
	defer synthMu.Unlock()
	if s, ok := synthCache[variant]; ok {
		if s == nil {
			t.Fatalf("%s: the synth failed in an earlier test", variant)
		}
		return s
	}
	v, ok := variants[variant]
	if !ok {
		t.Fatalf("no variant %q", variant)
	}
	synthCache[variant] = nil
	// A failed synth (a validation error) panics in the jsii runtime.
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: synth failed: %v", variant, r)
		}
	}()
	ctx := cdkContext(t)
	ctx["stage"] = v.stage
	ctx["assetDir"] = testAssets
	ctx["dashboardDir"] = testDashboard
	if v.edit != nil {
		v.edit(ctx)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(filepath.Join(testOut, variant))})
	cfg, err := ConfigFromContext(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) })
	if err != nil {
		t.Fatalf("%s: %v", variant, err)
	}
	s := &synthesized{cfg: cfg, stack: NewStack(app, cfg)}
	s.template = assertions.Template_FromStack(s.stack.Stack, nil)
	s.json = *s.template.ToJSON()
	synthCache[variant] = s
	return s
}

// check runs a CDK assertion, which panics when it fails, as a test error.
func check(t *testing.T, what string, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assertion()
}

// resources returns the template's resources of a type by logical ID.
func (s *synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// functionID returns the logical ID of the function named name.
func (s *synthesized) functionID(t *testing.T, name string) string {
	t.Helper()
	for id, r := range s.resources("AWS::Lambda::Function") {
		if props(r)["FunctionName"] == name {
			return id
		}
	}
	t.Fatalf("no function named %s", name)
	return ""
}

// refersTo reports whether v (a template value) references logical ID id.
func refersTo(v any, id string) bool {
	b, _ := json.Marshal(v)
	return bytes.Contains(b, []byte(`{"Ref":"`+id+`"}`)) || bytes.Contains(b, []byte(`{"Fn::GetAtt":["`+id+`",`))
}

func TestFunctions(t *testing.T) {
	for _, variant := range []string{"dev", "prod", "dev-x86"} {
		t.Run(variant, func(t *testing.T) {
			s := synth(t, variant)
			for _, fn := range AllFunctions {
				fc := s.cfg.Functions[fn]
				want := map[string]any{
					"FunctionName":  resourceName(s.cfg, fn),
					"Runtime":       "provided.al2023",
					"Architectures": []any{s.cfg.Architecture},
					"Handler":       "bootstrap",
					"MemorySize":    fc.MemoryMiB,
					"Timeout":       fc.TimeoutSeconds,
					"VpcConfig":     assertions.Match_ObjectLike(&map[string]any{"SubnetIds": assertions.Match_AnyValue()}),
					"LoggingConfig": map[string]any{"LogGroup": assertions.Match_AnyValue()},
				}
				if fc.ReservedConcurrency > 0 {
					want["ReservedConcurrentExecutions"] = fc.ReservedConcurrency
				} else {
					want["ReservedConcurrentExecutions"] = assertions.Match_Absent()
				}
				check(t, fn+" function", func() {
					s.template.HasResourceProperties(jsii.String("AWS::Lambda::Function"), &want)
				})
				check(t, fn+" log group", func() {
					s.template.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), &map[string]any{
						"LogGroupName":    retainedNameValue("/aws/lambda/" + resourceName(s.cfg, fn)),
						"RetentionInDays": s.cfg.LogRetentionDays,
					})
				})
			}
			for _, svc := range Services {
				vars := map[string]any{
					"DATABASE_URL":  assertions.Match_AnyValue(),
					"DB_SECRET_ARN": map[string]any{"Ref": assertions.Match_AnyValue()},
					"DB_MAX_CONNS":  fmt.Sprint(s.cfg.Functions[svc].DBMaxConns),
					"DB_MIGRATE":    "false",
					"KAFKA_BROKERS": assertions.Match_AnyValue(),
					"KAFKA_AUTH":    "iam",
					"METRICS":       "emf",
				}
				if svc == "api" {
					vars["SCHEDULER_FUNCTION_NAME"] = resourceName(s.cfg, "scheduler")
					vars["WORKER_FUNCTION_NAME"] = resourceName(s.cfg, "worker")
					vars["DLQ_FUNCTION_NAME"] = resourceName(s.cfg, "dlq")
				}
				check(t, svc+" environment", func() {
					s.template.HasResourceProperties(jsii.String("AWS::Lambda::Function"), &map[string]any{
						"FunctionName": resourceName(s.cfg, svc),
						"Environment":  map[string]any{"Variables": assertions.Match_ObjectLike(&vars)},
					})
				})
				// The URL names the service's user and database, never a password.
				env := props(s.resources("AWS::Lambda::Function")[s.functionID(t, resourceName(s.cfg, svc))])["Environment"]
				for k := range env.(map[string]any)["Variables"].(map[string]any) {
					if _, fromContext := s.cfg.Functions[svc].Env[k]; !fromContext && !contains(StackEnv, k) {
						t.Errorf("%s: %s is set by the stack but missing from StackEnv", svc, k)
					}
				}
				url, _ := json.Marshal(env.(map[string]any)["Variables"].(map[string]any)["DATABASE_URL"])
				if !strings.Contains(string(url), "postgres://"+DatabaseUser(svc)+"@") ||
					!strings.Contains(string(url), "/"+DatabaseName(svc)+"?") || !strings.Contains(string(url), "sslmode=require") {
					t.Errorf("%s DATABASE_URL is %s", svc, url)
				}
			}
		})
	}
}

func TestHTTPAPI(t *testing.T) {
	for _, variant := range []string{"dev", "prod", "dev-x86"} {
		t.Run(variant, func(t *testing.T) {
			s := synth(t, variant)
			apiFn := s.functionID(t, resourceName(s.cfg, "api"))
			routes := s.resources("AWS::ApiGatewayV2::Route")
			if len(routes) != len(Routes) {
				t.Errorf("%d routes, want %d", len(routes), len(Routes))
			}
			// API keys must reach the api function: no authorizer at all.
			if n := len(s.resources("AWS::ApiGatewayV2::Authorizer")); n != 0 {
				t.Errorf("%d authorizers, want none (the api function checks keys and tokens)", n)
			}
			for _, r := range Routes {
				key := string(r.Method) + " " + r.Path
				var p map[string]any
				for _, route := range routes {
					if props(route)["RouteKey"] == key {
						p = props(route)
					}
				}
				if p == nil {
					t.Errorf("no route %s", key)
					continue
				}
				if (p["AuthorizationType"] != nil && p["AuthorizationType"] != "NONE") || p["AuthorizerId"] != nil || p["AuthorizationScopes"] != nil {
					t.Errorf("%s: authorization %v by %v with %v, want none", key, p["AuthorizationType"], p["AuthorizerId"], p["AuthorizationScopes"])
				}
			}
			if Routes[0].Method != "ANY" || Routes[0].Path != "/api/{proxy+}" {
				t.Errorf("the first route is %v %v, want ANY /api/{proxy+}", Routes[0].Method, Routes[0].Path)
			}
			integrations := s.resources("AWS::ApiGatewayV2::Integration")
			if len(integrations) != 1 {
				t.Fatalf("%d integrations, want 1", len(integrations))
			}
			for _, in := range integrations {
				p := props(in)
				if p["IntegrationType"] != "AWS_PROXY" || p["PayloadFormatVersion"] != "2.0" || !refersTo(p["IntegrationUri"], apiFn) {
					t.Errorf("integration %v does not proxy to the api function with payload 2.0", p)
				}
			}
			// The stage's throttle stays: a backstop for the whole stage in
			// front of the api's limits per caller.
			check(t, "$default stage with access logs and throttling", func() {
				s.template.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), &map[string]any{
					"StageName":  "$default",
					"AutoDeploy": true,
					"AccessLogSettings": map[string]any{
						"DestinationArn": assertions.Match_AnyValue(),
						"Format":         assertions.Match_StringLikeRegexp(jsii.String(`\$context\.requestId.*\$context\.status`)),
					},
					"DefaultRouteSettings": map[string]any{
						"ThrottlingRateLimit":  s.cfg.API.ThrottleRatePerSecond,
						"ThrottlingBurstLimit": s.cfg.API.ThrottleBurst,
					},
				})
			})
			check(t, "ApiUrl output", func() { s.template.HasOutput(jsii.String("ApiUrl"), &map[string]any{}) })
			testAuth(t, s)
		})
	}
}

// testAuth checks the token side: a user pool without sign-up whose app
// clients may use only the client credentials grant with their scopes,
// each client's credentials in its secret, one group per role, and the
// api function told to trust exactly that pool and those clients.
func testAuth(t *testing.T, s *synthesized) {
	t.Helper()
	pools := s.resources("AWS::Cognito::UserPool")
	if len(pools) != 1 {
		t.Fatalf("%d user pools, want 1", len(pools))
	}
	var poolID string
	for id, p := range pools {
		poolID = id
		pp := props(p)
		if admin, _ := pp["AdminCreateUserConfig"].(map[string]any); admin["AllowAdminCreateUserOnly"] != true {
			t.Errorf("user pool allows sign-up: %v", pp["AdminCreateUserConfig"])
		}
		if pp["UserPoolTier"] != "LITE" {
			t.Errorf("user pool tier %v, want LITE", pp["UserPoolTier"])
		}
	}
	check(t, "resource server", func() {
		s.template.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolResourceServer"), &map[string]any{
			"Identifier": apiauth.ResourceServer,
			"Scopes": []any{
				map[string]any{"ScopeName": "read", "ScopeDescription": assertions.Match_AnyValue()},
				map[string]any{"ScopeName": "write", "ScopeDescription": assertions.Match_AnyValue()},
			},
		})
	})
	check(t, "token domain", func() {
		s.template.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolDomain"), &map[string]any{
			"Domain": map[string]any{"Fn::Join": []any{"-", []any{"jobweaver-" + s.cfg.Stage, map[string]any{"Ref": "AWS::AccountId"}}}},
		})
	})
	// One group per role, in the pool.
	groups := s.resources("AWS::Cognito::UserPoolGroup")
	var names []string
	for _, g := range groups {
		names = append(names, fmt.Sprint(props(g)["GroupName"]))
		if !refersTo(props(g)["UserPoolId"], poolID) {
			t.Errorf("group %v is not in the pool", props(g)["GroupName"])
		}
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "admin operator viewer" {
		t.Errorf("groups %v, want admin operator viewer", names)
	}

	apiEnv := props(s.resources("AWS::Lambda::Function")[s.functionID(t, resourceName(s.cfg, "api"))])["Environment"].(map[string]any)["Variables"].(map[string]any)
	if apiEnv["API_AUTH"] != "keys,jwt" || apiEnv["AUTH_JWT_SCOPE_ROLES"] != "jobweaver/read=viewer,jobweaver/write=operator" ||
		apiEnv["AUTH_JWT_ROLE_CLAIM"] != "cognito:groups" || apiEnv["API_ADMIN_KEY"] != nil {
		t.Errorf("api auth env: API_AUTH %v, AUTH_JWT_SCOPE_ROLES %v, AUTH_JWT_ROLE_CLAIM %v, API_ADMIN_KEY %v",
			apiEnv["API_AUTH"], apiEnv["AUTH_JWT_SCOPE_ROLES"], apiEnv["AUTH_JWT_ROLE_CLAIM"], apiEnv["API_ADMIN_KEY"])
	}
	// The issuer is the pool's provider URL,
	// https://cognito-idp.<region>.amazonaws.com/<pool ID>.
	if iss, _ := json.Marshal(apiEnv["AUTH_JWT_ISSUER"]); string(iss) != `{"Fn::GetAtt":["`+poolID+`","ProviderURL"]}` {
		t.Errorf("AUTH_JWT_ISSUER %s, want the pool's ProviderURL", iss)
	}
	// The pool's keys, copied at deploy from outside the VPC (the api
	// cannot reach Cognito from its private subnets).
	copies := s.resources("Custom::JobWeaverJWKS")
	if len(copies) != 1 {
		t.Fatalf("%d Custom::JobWeaverJWKS, want 1", len(copies))
	}
	for id, r := range copies {
		if jwks, _ := json.Marshal(apiEnv["AUTH_JWT_JWKS"]); string(jwks) != `{"Fn::GetAtt":["`+id+`","Jwks"]}` {
			t.Errorf("AUTH_JWT_JWKS %s, want the copy's Jwks", jwks)
		}
		if props(r)["Refresh"] != s.cfg.Refresh {
			t.Errorf("the copy's Refresh is %v, want %q", props(r)["Refresh"], s.cfg.Refresh)
		}
		for _, key := range s.resources("Custom::JobWeaverAdminKey") {
			if props(key)["Refresh"] != s.cfg.Refresh {
				t.Errorf("the admin key resource's Refresh is %v, want %q", props(key)["Refresh"], s.cfg.Refresh)
			}
		}
		url, _ := json.Marshal(props(r)["Url"])
		if !strings.Contains(string(url), `{"Fn::GetAtt":["`+poolID+`","ProviderURL"]}`) || !strings.Contains(string(url), `"/.well-known/jwks.json"`) {
			t.Errorf("the copy fetches %s, want the pool's jwks.json", url)
		}
	}
	copiers := 0
	for _, r := range s.resources("AWS::Lambda::Function") {
		p := props(r)
		if p["Runtime"] == "nodejs22.x" && strings.Contains(fmt.Sprint(p["Description"]), "Custom::JobWeaverJWKS") {
			copiers++
			if p["VpcConfig"] != nil {
				t.Errorf("the JWKS copy runs in the VPC, where Cognito cannot be reached")
			}
			code, _ := json.Marshal(p["Code"])
			if !strings.Contains(string(code), "jwks") && !strings.Contains(string(code), "keys") {
				t.Errorf("the JWKS copy's code is %s", code)
			}
		}
	}
	if copiers != 1 {
		t.Errorf("%d JWKS copy functions, want 1", copiers)
	}
	// The client IDs joined by commas (CDK folds a join of one into the
	// ID itself).
	audience := apiEnv["AUTH_JWT_AUDIENCE"]
	if len(s.cfg.API.Clients) > 1 {
		join, _ := audience.(map[string]any)["Fn::Join"].([]any)
		if ids, _ := join[1].([]any); len(join) != 2 || join[0] != "," || len(ids) != len(s.cfg.API.Clients) {
			t.Errorf("AUTH_JWT_AUDIENCE %v, want the %d client IDs joined by commas", audience, len(s.cfg.API.Clients))
		}
	}
	clients := s.resources("AWS::Cognito::UserPoolClient")
	if len(clients) != len(s.cfg.API.Clients) {
		t.Errorf("%d app clients, want %d", len(clients), len(s.cfg.API.Clients))
	}
	for name, scopes := range s.cfg.API.Clients {
		var id string
		for cid, c := range clients {
			if props(c)["ClientName"] == resourceName(s.cfg, name) {
				id = cid
			}
		}
		if id == "" {
			t.Errorf("no app client %s", resourceName(s.cfg, name))
			continue
		}
		p := props(clients[id])
		want := make([]string, len(scopes))
		for i, sc := range scopes {
			want[i] = apiauth.ResourceServer + "/" + sc
		}
		if strings.Join(list(p["AllowedOAuthFlows"]), ",") != "client_credentials" || p["GenerateSecret"] != true ||
			p["AllowedOAuthFlowsUserPoolClient"] != true || strings.Join(list(p["ExplicitAuthFlows"]), ",") != "ALLOW_REFRESH_TOKEN_AUTH" {
			t.Errorf("client %s: flows %v, secret %v, auth flows %v: want client_credentials only, with a secret",
				name, p["AllowedOAuthFlows"], p["GenerateSecret"], p["ExplicitAuthFlows"])
		}
		b, _ := json.Marshal(p["AllowedOAuthScopes"])
		for _, sc := range want {
			if !strings.Contains(string(b), sc) {
				t.Errorf("client %s: scopes %s lack %s", name, b, sc)
			}
		}
		if strings.Count(string(b), apiauth.ResourceServer+"/") != len(want) {
			t.Errorf("client %s: scopes %s, want exactly %v", name, b, want)
		}
		units, _ := p["TokenValidityUnits"].(map[string]any)
		if p["AccessTokenValidity"] != float64(s.cfg.API.TokenValidityMinutes) || units["AccessToken"] != "minutes" || !refersTo(p["UserPoolId"], poolID) {
			t.Errorf("client %s: token validity %v (want %d minutes), pool %v", name, p["AccessTokenValidity"], s.cfg.API.TokenValidityMinutes, p["UserPoolId"])
		}
		if !refersTo(audience, id) {
			t.Errorf("AUTH_JWT_AUDIENCE %v lacks client %s", audience, name)
		}
		check(t, "secret of client "+name, func() {
			s.template.HasResourceProperties(jsii.String("AWS::SecretsManager::Secret"), &map[string]any{
				"Name":         apiauth.SecretName(s.cfg.Stage, name),
				"SecretString": assertions.Match_AnyValue(),
			})
		})
	}
	for _, out := range []string{"TokenUrl", "UserPoolId", "ApiClientSecrets", "ApiAdminKeySecret"} {
		check(t, out+" output", func() { s.template.HasOutput(jsii.String(out), &map[string]any{}) })
	}
}

// TestAdminKey checks the first admin key's path: its secret, filled by
// the provisioning function's custom resource (which may read and write
// that secret), and read by the api function (which may only read it), at
// API_ADMIN_KEY_SECRET_ARN, after the resource ran. No other function
// touches it.
func TestAdminKey(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		t.Run(stage, func(t *testing.T) {
			s := synth(t, stage)
			var secretID string
			for id, r := range s.resources("AWS::SecretsManager::Secret") {
				if props(r)["Name"] == apiauth.AdminKeySecretName(s.cfg.Stage) {
					secretID = id
				}
			}
			if secretID == "" {
				t.Fatalf("no secret %s", apiauth.AdminKeySecretName(s.cfg.Stage))
			}
			if _, generated := props(s.resources("AWS::SecretsManager::Secret")[secretID])["GenerateSecretString"]; !generated {
				t.Errorf("the admin key secret has a value in the template")
			}
			resources := s.resources("Custom::JobWeaverAdminKey")
			if len(resources) != 1 {
				t.Fatalf("%d Custom::JobWeaverAdminKey, want 1", len(resources))
			}
			var resourceID string
			for id, r := range resources {
				resourceID = id
				if p := props(r); !refersTo(p["SecretArn"], secretID) || p["ServiceToken"] == nil {
					t.Errorf("the admin key resource's properties %v do not name the secret", p)
				}
			}
			apiID := s.functionID(t, resourceName(s.cfg, "api"))
			apiRes := s.resources("AWS::Lambda::Function")[apiID]
			env := props(apiRes)["Environment"].(map[string]any)["Variables"].(map[string]any)
			if arn, _ := json.Marshal(env["API_ADMIN_KEY_SECRET_ARN"]); string(arn) != `{"Ref":"`+secretID+`"}` {
				t.Errorf("API_ADMIN_KEY_SECRET_ARN %s, want the secret's ARN", arn)
			}
			if deps, _ := json.Marshal(apiRes["DependsOn"]); !strings.Contains(string(deps), `"`+resourceID+`"`) {
				t.Errorf("the api function does not wait for the admin key resource: %s", deps)
			}

			statements := map[string][]map[string]any{}
			for id, r := range s.resources("AWS::IAM::Policy") {
				for _, st := range props(r)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
					statements[id] = append(statements[id], st.(map[string]any))
				}
			}
			// What each function may do with the secret, exactly.
			want := map[string]string{
				"api":     "secretsmanager:GetSecretValue",
				"migrate": "secretsmanager:GetSecretValue secretsmanager:PutSecretValue",
			}
			for _, fn := range AllFunctions {
				var got []string
				for _, st := range policyStatementsOfRole(s, roleOf(t, s, resourceName(s.cfg, fn)), statements) {
					b, _ := json.Marshal(st["Resource"])
					if !bytes.Contains(b, []byte(`"`+secretID+`"`)) {
						continue
					}
					if res := list(st["Resource"]); len(res) != 1 || res[0] != `{"Ref":"`+secretID+`"}` {
						t.Errorf("%s: a statement on the admin key covers %v, want that secret alone", fn, res)
					}
					got = append(got, list(st["Action"])...)
				}
				sort.Strings(got)
				if strings.Join(got, " ") != want[fn] {
					t.Errorf("%s may %v on the admin key secret, want %q", fn, got, want[fn])
				}
			}
		})
	}
}

// TestInternalRoutesPrivate checks that the functions are reached only by
// what the stack grants: API Gateway invokes the api function, the
// platform's functions invoke each other with IAM (lambda:InvokeFunction
// in their roles), and no function has a URL or a public permission.
func TestInternalRoutesPrivate(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		t.Run(stage, func(t *testing.T) {
			s := synth(t, stage)
			if n := len(s.resources("AWS::Lambda::Url")); n != 0 {
				t.Errorf("%d function URLs, want none", n)
			}
			apiID := s.functionID(t, resourceName(s.cfg, "api"))
			var httpAPI string
			for id := range s.resources("AWS::ApiGatewayV2::Api") {
				httpAPI = id
			}
			for id, r := range s.resources("AWS::Lambda::Permission") {
				p := props(r)
				principal := fmt.Sprint(p["Principal"])
				switch {
				case p["FunctionUrlAuthType"] != nil:
					t.Errorf("permission %s is for a function URL", id)
				case principal == "*":
					t.Errorf("permission %s lets anyone invoke %v", id, p["FunctionName"])
				case principal == "apigateway.amazonaws.com" && !refersTo(p["FunctionName"], apiID):
					t.Errorf("permission %s lets API Gateway invoke %v, not the api function", id, p["FunctionName"])
				case principal == "apigateway.amazonaws.com" && !refersTo(p["SourceArn"], httpAPI):
					t.Errorf("permission %s lets another API than %s invoke the api function: %v", id, httpAPI, p["SourceArn"])
				}
			}
		})
	}
}

func TestSchedule(t *testing.T) {
	s := synth(t, "dev")
	sched := s.functionID(t, resourceName(s.cfg, "scheduler"))
	rules := s.resources("AWS::Events::Rule")
	if len(rules) != 1 {
		t.Fatalf("%d EventBridge rules, want 1", len(rules))
	}
	for _, r := range rules {
		p := props(r)
		targets, _ := p["Targets"].([]any)
		if p["ScheduleExpression"] != "rate(1 minute)" || p["State"] == "DISABLED" || len(targets) != 1 ||
			!refersTo(targets[0].(map[string]any)["Arn"], sched) {
			t.Errorf("rule %v is not rate(1 minute) → scheduler", p)
		}
	}
	check(t, "ticks are not retried", func() {
		s.template.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), &map[string]any{
			"FunctionName":         map[string]any{"Ref": sched},
			"MaximumRetryAttempts": 0,
		})
	})
}

func TestEventSourceMappings(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		t.Run(stage, func(t *testing.T) {
			s := synth(t, stage)
			esms := s.resources("AWS::Lambda::EventSourceMapping")
			// Besides the Kafka mappings, the failure queue feeds the dlq,
			// which reports the messages it could not handle yet.
			failureQueue := 0
			for id, r := range esms {
				p := props(r)
				if arn, _ := json.Marshal(p["EventSourceArn"]); strings.Contains(string(arn), "MappingFailures") {
					failureQueue++
					rt, _ := p["FunctionResponseTypes"].([]any)
					if !refersTo(p["FunctionName"], s.functionID(t, resourceName(s.cfg, "dlq"))) || len(rt) != 1 || rt[0] != "ReportBatchItemFailures" {
						t.Errorf("failure queue mapping %s: function %v, response types %v; want the dlq with batch item failures", id, p["FunctionName"], rt)
					}
					delete(esms, id)
				}
			}
			if failureQueue != 1 || len(esms) != len(kafka.Topics) {
				t.Fatalf("%d Kafka mappings and %d on the failure queue, want %d and 1", len(esms), failureQueue, len(kafka.Topics))
			}
			cluster := "Cluster"
			seen := map[string]bool{}
			for id, r := range esms {
				p := props(r)
				topics, _ := p["Topics"].([]any)
				if len(topics) != 1 {
					t.Errorf("%s: topics %v", id, p["Topics"])
					continue
				}
				topic := topics[0].(string)
				m, ok := mappingByTopic(topic)
				if !ok || seen[topic] {
					t.Errorf("%s: topic %s unknown or mapped twice", id, topic)
					continue
				}
				seen[topic] = true
				mc := s.cfg.Mappings[topic]
				if !refersTo(p["FunctionName"], s.functionID(t, resourceName(s.cfg, m.Function))) {
					t.Errorf("%s → %v, want the %s function", topic, p["FunctionName"], m.Function)
				}
				arn, _ := json.Marshal(p["EventSourceArn"])
				if !strings.Contains(string(arn), cluster) {
					t.Errorf("%s reads %s, not the MSK cluster", topic, arn)
				}
				if p["StartingPosition"] != mc.StartingPosition || p["BatchSize"] != float64(mc.BatchSize) {
					t.Errorf("%s: starting position %v, batch size %v", topic, p["StartingPosition"], p["BatchSize"])
				}
				if p["MaximumBatchingWindowInSeconds"] != float64(mc.BatchWindowSeconds) {
					t.Errorf("%s: batching window %v", topic, p["MaximumBatchingWindowInSeconds"])
				}
				group := resourceName(s.cfg, m.Function+"-"+topic)
				if cg, _ := json.Marshal(p["AmazonManagedKafkaEventSourceConfig"]); !strings.Contains(string(cg), `"ConsumerGroupId":"`+group+`"`) {
					t.Errorf("%s: consumer group %s, want %s", topic, cg, group)
				}
				if d, _ := json.Marshal(p["DestinationConfig"]); !strings.Contains(string(d), "MappingFailures") {
					t.Errorf("%s: on-failure destination %s, want the mapping-failures queue", topic, d)
				}
				pp, _ := p["ProvisionedPollerConfig"].(map[string]any)
				if mc.Provisioned() {
					if pp["MinimumPollers"] != float64(mc.MinPollers) || pp["MaximumPollers"] != float64(mc.MaxPollers) {
						t.Errorf("%s: pollers %v", topic, pp)
					}
					if rt, _ := p["FunctionResponseTypes"].([]any); len(rt) != 1 || rt[0] != "ReportBatchItemFailures" {
						t.Errorf("%s: response types %v", topic, p["FunctionResponseTypes"])
					}
					if p["MaximumRetryAttempts"] != float64(mc.RetryAttempts) || p["BisectBatchOnFunctionError"] != true {
						t.Errorf("%s: retries %v, bisect %v", topic, p["MaximumRetryAttempts"], p["BisectBatchOnFunctionError"])
					}
				} else if pp != nil || p["FunctionResponseTypes"] != nil {
					t.Errorf("%s: on-demand mapping has pollers %v or response types %v", topic, pp, p["FunctionResponseTypes"])
				}
				// The mapping starts only once the topics exist.
				if deps, _ := json.Marshal(r["DependsOn"]); !strings.Contains(string(deps), "ProvisioningTopics") {
					t.Errorf("%s: does not depend on the topics (DependsOn %s)", topic, deps)
				}
			}
		})
	}
}

// TestConcurrency checks, from the template alone, that no function's
// triggers can run more invocations at once than its reservation: one per
// partition of each Kafka topic mapped to it, the SQS mapping's
// MaxConcurrency, one per schedule, one per function whose role may invoke
// it (the api's internal routes). A trigger beyond the reservation is throttled by its own
// function: Kafka batches and failure-queue messages wait, ticks drop.
func TestConcurrency(t *testing.T) {
	partitions := map[string]int{}
	for _, tp := range kafka.Topics {
		partitions[tp.Name] = int(tp.Partitions)
	}
	for _, stage := range []string{"dev", "prod"} {
		t.Run(stage, func(t *testing.T) {
			s := synth(t, stage)
			need := map[string]int{}
			owner := func(v any) string {
				for _, fn := range Services {
					if refersTo(v, s.functionID(t, resourceName(s.cfg, fn))) {
						return fn
					}
				}
				return ""
			}
			for id, r := range s.resources("AWS::Lambda::EventSourceMapping") {
				p := props(r)
				fn := owner(p["FunctionName"])
				if topics, _ := p["Topics"].([]any); len(topics) == 1 {
					need[fn] += partitions[topics[0].(string)]
					continue
				}
				sc, _ := p["ScalingConfig"].(map[string]any)
				max, _ := sc["MaximumConcurrency"].(float64)
				if max < 2 {
					t.Errorf("SQS mapping %s → %s has no MaximumConcurrency (%v): Lambda would start 5 invocations and scale on", id, fn, p["ScalingConfig"])
				}
				need[fn] += int(max)
			}
			for _, r := range s.resources("AWS::Events::Rule") {
				for _, target := range props(r)["Targets"].([]any) {
					need[owner(target.(map[string]any)["Arn"])]++
				}
			}
			// One for each function that may invoke it synchronously (the
			// api's internal routes, the worker's attempt starts): the roles
			// granted lambda:InvokeFunction on it.
			for _, r := range s.resources("AWS::IAM::Policy") {
				p := props(r)
				doc, _ := p["PolicyDocument"].(map[string]any)
				statements, _ := doc["Statement"].([]any)
				callees := map[string]bool{}
				for _, st := range statements {
					st := st.(map[string]any)
					if !strings.Contains(strings.Join(list(st["Action"]), " "), "lambda:InvokeFunction") {
						continue
					}
					for _, fn := range Services {
						b, _ := json.Marshal(st["Resource"])
						if refersTo(st["Resource"], s.functionID(t, resourceName(s.cfg, fn))) ||
							bytes.Contains(b, []byte(":function:"+resourceName(s.cfg, fn)+`"`)) {
							callees[fn] = true
						}
					}
				}
				for fn := range callees {
					need[fn]++
				}
			}
			total := 0
			for _, fn := range Services {
				id := s.functionID(t, resourceName(s.cfg, fn))
				reserved, _ := props(s.resources("AWS::Lambda::Function")[id])["ReservedConcurrentExecutions"].(float64)
				total += int(reserved)
				if reserved == 0 && !s.cfg.Database.Proxy {
					t.Errorf("%s is unreserved without the RDS Proxy: nothing bounds its connections", fn)
				}
				if reserved > 0 && need[fn] > int(reserved) {
					t.Errorf("%s: its triggers can run %d invocations at once, its reservation is %v", fn, need[fn], reserved)
				}
				if cn, _ := s.cfg.ConcurrencyNeed(fn); cn != need[fn] {
					t.Errorf("%s: Config.ConcurrencyNeed says %d, the template %d", fn, cn, need[fn])
				}
			}
			if total != s.cfg.ReservedTotal() {
				t.Errorf("the template reserves %d, Config.ReservedTotal says %d", total, s.cfg.ReservedTotal())
			}
			t.Logf("%s reserves %d: the account needs a concurrency quota of at least %d", stage, total, total+100)
		})
	}
}

// retainedNameValue is how the template spells retainedName(prefix):
// prefix + "-" + the first block of the stack's UUID.
func retainedNameValue(prefix string) map[string]any {
	split := func(sep string, v any) map[string]any { return map[string]any{"Fn::Split": []any{sep, v}} }
	sel := func(i int, v any) map[string]any { return map[string]any{"Fn::Select": []any{i, v}} }
	suffix := sel(0, split("-", sel(2, split("/", map[string]any{"Ref": "AWS::StackId"}))))
	return map[string]any{"Fn::Join": []any{"", []any{prefix + "-", suffix}}}
}

// nameString renders a name from the template: a string as it is, a
// retainedName as <prefix>-<stack>.
func nameString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	for _, part := range regexp.MustCompile(`"Fn::Join":\["",\["([^"]*)-",`).FindAllStringSubmatch(string(b), 1) {
		if want, _ := json.Marshal(retainedNameValue(part[1])); string(want) == string(b) {
			return part[1] + "-<stack>"
		}
	}
	return string(b)
}

// refersToResource reports whether v references a resource of the stack.
func refersToResource(s *synthesized, v any) bool {
	for id := range s.json["Resources"].(map[string]any) {
		if refersTo(v, id) {
			return true
		}
	}
	return false
}

// uniqueNameKeys are the properties that name a resource uniquely in an
// account and region (a second resource of the same name fails to create).
var uniqueNameKeys = []string{"LogGroupName", "Name", "BucketName", "QueueName", "TopicName", "FunctionName",
	"DBInstanceIdentifier", "DBProxyName", "ClusterName", "RoleName", "Domain"}

// TestRetainedNames checks that what outlives a deleted stack
// (DeletionPolicy Retain: prod's data, the CDK's own log groups) has no
// fixed unique name: each carries the
// stack's own suffix (from AWS::StackId), so that creating the stack
// again does not collide with what the deleted one left behind.
func TestRetainedNames(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		t.Run(stage, func(t *testing.T) {
			s := synth(t, stage)
			retained := 0
			for id, r := range s.json["Resources"].(map[string]any) {
				res := r.(map[string]any)
				if res["DeletionPolicy"] != "Retain" {
					continue
				}
				retained++
				p := props(res)
				for _, k := range uniqueNameKeys {
					v, ok := p[k]
					if !ok {
						continue
					}
					// Unique per stack: the stack's suffix, or a name CloudFormation
					// generates for another resource (the CDK's own log groups).
					if b, _ := json.Marshal(v); !strings.Contains(string(b), `"AWS::StackId"`) && !refersToResource(s, v) {
						t.Errorf("retained %s (%s) has the fixed %s %s: a stack created again after a delete would collide with it", id, res["Type"], k, b)
					}
				}
			}
			if s.cfg.RetainData && retained == 0 {
				t.Errorf("nothing retained with retainData")
			}
			// make token finds the app clients' secrets by their fixed names:
			// those go with the stack.
			for id, r := range s.resources("AWS::SecretsManager::Secret") {
				if name, ok := props(r)["Name"].(string); ok && strings.Contains(name, "/api-clients/") && r["DeletionPolicy"] != "Delete" {
					t.Errorf("%s: the app client secret %s is not deleted with the stack (DeletionPolicy %v)", id, name, r["DeletionPolicy"])
				}
			}
		})
	}
}

func TestDatabase(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		t.Run(stage, func(t *testing.T) {
			s := synth(t, stage)
			check(t, "private, encrypted Postgres", func() {
				s.template.HasResourceProperties(jsii.String("AWS::RDS::DBInstance"), &map[string]any{
					"Engine":             "postgres",
					"DBInstanceClass":    "db." + s.cfg.Database.InstanceClass,
					"PubliclyAccessible": false,
					"StorageEncrypted":   true,
					"MultiAZ":            s.cfg.Database.MultiAz,
					"DeletionProtection": s.cfg.RetainData,
				})
			})
			check(t, "one instance", func() { s.template.ResourceCountIs(jsii.String("AWS::RDS::DBInstance"), jsii.Number(1)) })
			check(t, "TLS only", func() {
				s.template.HasResourceProperties(jsii.String("AWS::RDS::DBParameterGroup"), &map[string]any{
					"Parameters": assertions.Match_ObjectLike(&map[string]any{"rds.force_ssl": "1"}),
				})
			})
			for _, svc := range Services {
				check(t, svc+" secret", func() {
					s.template.HasResourceProperties(jsii.String("AWS::SecretsManager::Secret"), &map[string]any{
						"Name": retainedNameValue(resourceName(s.cfg, "db-"+svc)),
						"GenerateSecretString": assertions.Match_ObjectLike(&map[string]any{
							"SecretStringTemplate": assertions.Match_SerializedJson(map[string]any{
								"username": DatabaseUser(svc), "dbname": DatabaseName(svc),
							}),
						}),
					})
				})
			}
			proxies := 0
			if s.cfg.Database.Proxy {
				proxies = 1
				check(t, "proxy requires TLS", func() {
					s.template.HasResourceProperties(jsii.String("AWS::RDS::DBProxy"), &map[string]any{"RequireTLS": true, "EngineFamily": "POSTGRESQL"})
				})
			}
			check(t, "proxy count", func() { s.template.ResourceCountIs(jsii.String("AWS::RDS::DBProxy"), jsii.Number(float64(proxies))) })
			dbs := s.resources("Custom::JobWeaverDatabases")
			if len(dbs) != 1 {
				t.Fatalf("%d Custom::JobWeaverDatabases, want 1", len(dbs))
			}
			for _, r := range dbs {
				p := props(r)
				if p["MigrationsHash"] != MigrationsHash() || len(p["Services"].([]any)) != len(Services) {
					t.Errorf("databases resource: %v", p)
				}
			}
		})
	}
}

func TestKafka(t *testing.T) {
	dev, prod := synth(t, "dev"), synth(t, "prod")
	check(t, "dev: provisioned MSK with IAM only, TLS", func() {
		dev.template.HasResourceProperties(jsii.String("AWS::MSK::Cluster"), &map[string]any{
			"ClientAuthentication": map[string]any{
				"Sasl":            map[string]any{"Iam": map[string]any{"Enabled": true}},
				"Unauthenticated": map[string]any{"Enabled": false},
			},
			"EncryptionInfo": map[string]any{"EncryptionInTransit": map[string]any{"ClientBroker": "TLS", "InCluster": true}},
		})
	})
	check(t, "prod: MSK Serverless with IAM", func() {
		prod.template.HasResourceProperties(jsii.String("AWS::MSK::ServerlessCluster"), &map[string]any{
			"ClientAuthentication": map[string]any{"Sasl": map[string]any{"Iam": map[string]any{"Enabled": true}}},
		})
	})
	for _, s := range []*synthesized{dev, prod} {
		var want []any
		for _, tp := range kafka.Topics {
			want = append(want, map[string]any{"Name": tp.Name, "Partitions": fmt.Sprint(tp.Partitions)})
		}
		check(t, s.cfg.Stage+": topics resource", func() {
			s.template.HasResourceProperties(jsii.String("Custom::JobWeaverTopics"), &map[string]any{"Topics": want})
		})
		for _, r := range s.resources("Custom::AWS") {
			call, _ := json.Marshal(props(r)["Update"])
			for _, want := range []string{`\"service\":\"Kafka\"`, `\"action\":\"getBootstrapBrokers\"`, `BootstrapBrokerStringSaslIam`} {
				if !strings.Contains(string(call), want) {
					t.Errorf("%s: the bootstrap-brokers call %s lacks %s", s.cfg.Stage, call, want)
				}
			}
		}
		check(t, s.cfg.Stage+": bootstrap brokers read at deploy time", func() {
			s.template.HasResourceProperties(jsii.String("Custom::AWS"), &map[string]any{
				"Create": assertions.Match_AnyValue(),
				"Update": assertions.Match_AnyValue(),
			})
		})
	}
}

func TestNetwork(t *testing.T) {
	s := synth(t, "dev")
	for _, typ := range []string{"AWS::EC2::NatGateway", "AWS::EC2::InternetGateway"} {
		if n := len(s.resources(typ)); n != 0 {
			t.Errorf("dev has %d %s, want none (private subnets and VPC endpoints)", n, typ)
		}
	}
	var services []string
	for _, r := range s.resources("AWS::EC2::VPCEndpoint") {
		b, _ := json.Marshal(props(r)["ServiceName"])
		services = append(services, string(b))
	}
	sort.Strings(services)
	joined := strings.Join(services, " ")
	// Secrets Manager for the functions; Lambda for the api's invokes and
	// the mappings; STS for the mappings; SQS for the mappings' on-failure
	// destination; SNS for the dlq's notifications; CloudWatch for the api's
	// GET /api/system (OffsetLag); X-Ray for the functions' spans (OTLP).
	for _, svc := range []string{".secretsmanager", ".lambda", ".sts", ".sqs", ".sns", ".monitoring", ".xray"} {
		if !strings.Contains(joined, svc) {
			t.Errorf("no %s endpoint among %v", svc, services)
		}
	}
	if len(services) != 7 {
		t.Errorf("%d VPC endpoints, want 7: %v", len(services), services)
	}
	// No two ingress rules alike: EC2 refuses a duplicate rule.
	seen := map[string]string{}
	for id, r := range s.resources("AWS::EC2::SecurityGroupIngress") {
		p := props(r)
		b, _ := json.Marshal([]any{p["GroupId"], p["SourceSecurityGroupId"], p["CidrIp"], p["IpProtocol"], p["FromPort"], p["ToPort"]})
		if other, dup := seen[string(b)]; dup {
			t.Errorf("ingress rules %s and %s are the same rule", id, other)
		}
		seen[string(b)] = id
	}
	check(t, "nothing looked up", func() {
		if ctx := s.stack.Node().TryGetContext(jsii.String("availability-zones:account=unknown-account:region=us-east-1")); ctx != nil {
			panic("an AZ lookup was recorded")
		}
	})
}

// expectedAlarms are the alarms' short names (resourceName(cfg, name)).
func expectedAlarms() []string {
	names := []string{"dead-letters-stored", "jobs-dead-lettered", "failure-rate", "outbox-backlog-scheduler",
		"outbox-backlog-worker", "outbox-parked-scheduler", "outbox-parked-worker", "due-backlog", "oldest-due-age", "mapping-failures", "mapping-failures-stuck", "rds-cpu", "rds-connections"}
	for _, svc := range Services {
		names = append(names, svc+"-errors", svc+"-throttles")
	}
	for _, svc := range []string{"scheduler", "worker", "dlq"} {
		names = append(names, svc+"-offset-lag")
	}
	sort.Strings(names)
	return names
}

func TestAlarms(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		t.Run(stage, func(t *testing.T) {
			s := synth(t, stage)
			topics := s.resources("AWS::SNS::Topic")
			if len(topics) != 1 {
				t.Fatalf("%d SNS topics, want 1", len(topics))
			}
			var topic string
			for id := range topics {
				topic = id
			}
			testAlarmTopicPolicy(t, s, topic)
			alarms := map[string]map[string]any{}
			for _, r := range s.resources("AWS::CloudWatch::Alarm") {
				alarms[props(r)["AlarmName"].(string)] = props(r)
			}
			want := expectedAlarms()
			if len(alarms) != len(want) {
				t.Errorf("%d alarms, want %d (%v)", len(alarms), len(want), want)
			}
			for _, name := range want {
				p, ok := alarms[resourceName(s.cfg, name)]
				if !ok {
					t.Errorf("no alarm %s", name)
					continue
				}
				for _, k := range []string{"AlarmActions", "OKActions"} {
					if acts, _ := p[k].([]any); len(acts) != 1 || !refersTo(acts[0], topic) {
						t.Errorf("alarm %s %s = %v, want the alarm topic", name, k, p[k])
					}
				}
			}
			// The metric contract: Service-level dimensions in namespace JobWeaver.
			for name, metric := range map[string]string{
				"dead-letters-stored": "DeadLettersStored", "jobs-dead-lettered": "JobsDeadLettered",
				"outbox-backlog-scheduler": "OutboxBacklog", "outbox-parked-worker": "OutboxParked", "due-backlog": "DueBacklog", "oldest-due-age": "OldestDueAgeSeconds",
			} {
				p := alarms[resourceName(s.cfg, name)]
				if p["Namespace"] != MetricNamespace || p["MetricName"] != metric {
					t.Errorf("alarm %s watches %v/%v", name, p["Namespace"], p["MetricName"])
				}
				if d, _ := json.Marshal(p["Dimensions"]); !strings.Contains(string(d), `"Name":"Service"`) {
					t.Errorf("alarm %s dimensions %s", name, d)
				}
			}
			rate, _ := json.Marshal(alarms[resourceName(s.cfg, "failure-rate")]["Metrics"])
			for _, m := range []string{"JobsFailed", "JobsDispatched", "IF(dispatched"} {
				if !strings.Contains(string(rate), m) {
					t.Errorf("failure-rate alarm lacks %s: %s", m, rate)
				}
			}
			for _, svc := range []string{"scheduler", "worker", "dlq"} {
				p := alarms[resourceName(s.cfg, svc+"-offset-lag")]
				if p["Namespace"] != "AWS/Lambda" || p["MetricName"] != "OffsetLag" {
					t.Errorf("%s offset-lag alarm watches %v/%v", svc, p["Namespace"], p["MetricName"])
				}
			}
			subs := s.resources("AWS::SNS::Subscription")
			if email := s.cfg.AlarmEmail; email != "" {
				if len(subs) != 1 {
					t.Fatalf("%d subscriptions, want the e-mail one", len(subs))
				}
				for _, r := range subs {
					if p := props(r); p["Protocol"] != "email" || p["Endpoint"] != email {
						t.Errorf("subscription %v", p)
					}
				}
			} else if len(subs) != 0 {
				t.Errorf("%d subscriptions without alarmEmail", len(subs))
			}
		})
	}
}

// testAlarmTopicPolicy checks that CloudWatch may publish to the alarm
// topic for this stage's alarms, and that every alarm's name is covered by
// the policy's aws:SourceArn pattern: with EnforceSSL the topic's policy
// replaces SNS's default one, so without this Allow no alarm notifies.
func testAlarmTopicPolicy(t *testing.T, s *synthesized, topic string) {
	t.Helper()
	policies := s.resources("AWS::SNS::TopicPolicy")
	if len(policies) != 1 {
		t.Fatalf("%d SNS topic policies, want 1", len(policies))
	}
	pattern := resourceName(s.cfg, "*")
	for id, r := range policies {
		p := props(r)
		if topics, _ := p["Topics"].([]any); len(topics) != 1 || !refersTo(topics[0], topic) {
			t.Errorf("topic policy %s is on %v, want the alarm topic", id, p["Topics"])
		}
		doc, _ := p["PolicyDocument"].(map[string]any)
		statements, _ := doc["Statement"].([]any)
		allows := 0
		for _, st := range statements {
			st := st.(map[string]any)
			if st["Effect"] != "Allow" {
				continue
			}
			allows++
			principal, _ := json.Marshal(st["Principal"])
			cond, _ := json.Marshal(st["Condition"])
			if string(principal) != `{"Service":"cloudwatch.amazonaws.com"}` || st["Action"] != "sns:Publish" || !refersTo(st["Resource"], topic) {
				t.Errorf("Allow statement %v: want cloudwatch.amazonaws.com to sns:Publish on the alarm topic", st)
			}
			if !strings.Contains(string(cond), `"ArnLike":{"aws:SourceArn":`) || !strings.Contains(string(cond), `":alarm:`+pattern+`"`) ||
				!strings.Contains(string(cond), `"aws:SourceAccount":{"Ref":"AWS::AccountId"}`) {
				t.Errorf("Allow statement's condition %s: want aws:SourceArn like this account's alarms %s and aws:SourceAccount", cond, pattern)
			}
		}
		if allows != 1 {
			t.Errorf("topic policy has %d Allow statements, want the one for CloudWatch alarms", allows)
		}
	}
	check(t, "CloudWatch may publish to the alarm topic", func() {
		s.template.HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), &map[string]any{
			"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
				"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
					"Effect":    "Allow",
					"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
					"Action":    "sns:Publish",
				})}),
			}),
		})
	})
	for _, r := range s.resources("AWS::CloudWatch::Alarm") {
		if name, _ := props(r)["AlarmName"].(string); !strings.HasPrefix(name, strings.TrimSuffix(pattern, "*")) {
			t.Errorf("alarm %s is outside the topic policy's pattern %s: its notifications would be refused", name, pattern)
		}
	}
}

func TestDashboard(t *testing.T) {
	s := synth(t, "dev")
	boards := s.resources("AWS::CloudWatch::Dashboard")
	if len(boards) != 1 {
		t.Fatalf("%d dashboards, want 1", len(boards))
	}
	for _, r := range boards {
		body, _ := json.Marshal(props(r)["DashboardBody"])
		// Left to right, top to bottom: the pipeline, then latencies, then lag.
		last := -1
		for _, m := range []string{"JobsSubmitted", "JobsDispatched", "JobsCompleted", "JobsFailed", "JobsDeadLettered",
			"DeadLettersStored", "FreshJobWait", "DispatchLatency", "ExecutionDuration", "DueBacklog", "OutboxBacklog", "OffsetLag"} {
			i := bytes.Index(body, []byte(`\"`+m+`\"`))
			if i < 0 {
				t.Errorf("the dashboard does not show %s", m)
				continue
			}
			if i < last {
				t.Errorf("%s comes before the stage it follows", m)
			}
			last = i
		}
	}
}

// TestIAM checks that no policy grants a wildcard action on a wildcard
// resource, that only the expected AWS managed policies are attached, and
// that each function's role reaches only its own things.
func TestIAM(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		t.Run(stage, func(t *testing.T) {
			s := synth(t, stage)
			statements := map[string][]map[string]any{} // by policy logical ID
			for id, r := range s.resources("AWS::IAM::Policy") {
				doc := props(r)["PolicyDocument"].(map[string]any)
				for _, st := range doc["Statement"].([]any) {
					statements[id] = append(statements[id], st.(map[string]any))
				}
			}
			for id, r := range s.resources("AWS::IAM::Role") {
				pols, _ := props(r)["Policies"].([]any)
				for _, p := range pols {
					doc := p.(map[string]any)["PolicyDocument"].(map[string]any)
					for _, st := range doc["Statement"].([]any) {
						statements[id] = append(statements[id], st.(map[string]any))
					}
				}
				managed, _ := json.Marshal(props(r)["ManagedPolicyArns"])
				for _, m := range regexp.MustCompile(`:iam::aws:policy/([A-Za-z/-]+)`).FindAllStringSubmatch(string(managed), -1) {
					switch m[1] {
					case "service-role/AWSLambdaBasicExecutionRole", "service-role/AWSLambdaVPCAccessExecutionRole":
					default:
						t.Errorf("role %s has managed policy %s", id, m[1])
					}
				}
			}
			for id, sts := range statements {
				for _, st := range sts {
					if st["Effect"] != "Allow" {
						continue
					}
					actions, resources := list(st["Action"]), list(st["Resource"])
					anyResource := false
					for _, r := range resources {
						anyResource = anyResource || r == "*"
					}
					for _, a := range actions {
						if a == "*" || (anyResource && strings.Contains(a, "*")) {
							t.Errorf("policy %s allows %s on %v", id, a, resources)
						}
					}
				}
			}

			// Each service reads its own database secret and no other; the
			// dlq also reads its webhook's signing secret.
			secretIDs := map[string]string{}
			for id, r := range s.resources("AWS::SecretsManager::Secret") {
				secretIDs[nameString(props(r)["Name"])] = id
			}
			for _, svc := range Services {
				role := roleOf(t, s, resourceName(s.cfg, svc))
				var read []string
				invoke := false
				for _, st := range policyStatementsOfRole(s, role, statements) {
					acts := strings.Join(list(st["Action"]), " ")
					b, _ := json.Marshal(st["Resource"])
					if strings.Contains(acts, "secretsmanager:GetSecretValue") {
						for name, id := range secretIDs {
							if bytes.Contains(b, []byte(`"`+id+`"`)) {
								read = append(read, name)
							}
						}
					}
					invoke = invoke || strings.Contains(acts, "lambda:InvokeFunction")
				}
				want := []string{resourceName(s.cfg, "db-"+svc) + "-<stack>"}
				if svc == "api" {
					want = append(want, apiauth.AdminKeySecretName(s.cfg.Stage))
				}
				if svc == "dlq" {
					want = append(want, resourceName(s.cfg, "dlq-webhook")+"-<stack>")
				}
				if svc == "worker" {
					want = append(want, resourceName(s.cfg, "webhook-signing-keys")+"-<stack>")
				}
				sort.Strings(read)
				sort.Strings(want)
				if strings.Join(read, " ") != strings.Join(want, " ") {
					t.Errorf("%s reads secrets %v, want %v", svc, read, want)
				}
				if invoke != (len(callees[svc]) > 0) { // the api; the worker starts attempts through the scheduler
					t.Errorf("%s may invoke functions: %v", svc, invoke)
				}
			}
		})
	}
}

// roleOf returns the logical ID of a function's role.
func roleOf(t *testing.T, s *synthesized, function string) string {
	t.Helper()
	r := s.resources("AWS::Lambda::Function")[s.functionID(t, function)]
	role := props(r)["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	return role
}

// policyStatementsOfRole lists the statements of the policies attached to
// a role (AWS::IAM::Policy with it in Roles).
func policyStatementsOfRole(s *synthesized, role string, statements map[string][]map[string]any) []map[string]any {
	var out []map[string]any
	for id, r := range s.resources("AWS::IAM::Policy") {
		if refersTo(props(r)["Roles"], role) {
			out = append(out, statements[id]...)
		}
	}
	return out
}

// list turns an IAM Action or Resource (a string, a token or a list) into
// strings; tokens become their JSON.
func list(v any) []string {
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	default:
		items = []any{x}
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
			continue
		}
		b, _ := json.Marshal(it)
		out = append(out, string(b))
	}
	return out
}

func TestDependencies(t *testing.T) {
	s := synth(t, "dev")
	for _, svc := range Services {
		r := s.resources("AWS::Lambda::Function")[s.functionID(t, resourceName(s.cfg, svc))]
		deps, _ := json.Marshal(r["DependsOn"])
		for _, want := range []string{"ProvisioningDatabases", "ProvisioningTopics"} {
			if !strings.Contains(string(deps), want) {
				t.Errorf("%s function does not depend on %s: %s", svc, want, deps)
			}
		}
	}
}

// TestNoDependencyCycle walks Ref, Fn::GetAtt, Fn::Sub and DependsOn:
// CloudFormation refuses a template whose resources wait on each other,
// and nothing else here would notice before a deploy.
func TestNoDependencyCycle(t *testing.T) {
	subRE := regexp.MustCompile(`\$\{([A-Za-z0-9]+)`)
	for _, stage := range []string{"dev", "prod"} {
		s := synth(t, stage)
		all := s.json["Resources"].(map[string]any)
		edges := map[string][]string{}
		var walk func(from string, v any)
		walk = func(from string, v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, val := range x {
					switch k {
					case "Ref":
						if id, ok := val.(string); ok && all[id] != nil {
							edges[from] = append(edges[from], id)
						}
					case "Fn::GetAtt":
						if l, ok := val.([]any); ok {
							edges[from] = append(edges[from], l[0].(string))
						}
					case "Fn::Sub":
						str, _ := val.(string)
						if l, ok := val.([]any); ok {
							str, _ = l[0].(string)
							walk(from, l[1])
						}
						for _, m := range subRE.FindAllStringSubmatch(str, -1) {
							if all[m[1]] != nil {
								edges[from] = append(edges[from], m[1])
							}
						}
					default:
						walk(from, val)
					}
				}
			case []any:
				for _, val := range x {
					walk(from, val)
				}
			}
		}
		for id, r := range all {
			res := r.(map[string]any)
			walk(id, res["Properties"])
			for _, d := range list(res["DependsOn"]) {
				if d != "null" {
					edges[id] = append(edges[id], d)
				}
			}
		}
		state := map[string]int{} // 1 visiting, 2 done
		var visit func(id string, path []string) bool
		visit = func(id string, path []string) bool {
			state[id] = 1
			for _, next := range edges[id] {
				if all[next] == nil {
					t.Errorf("%s: %s refers to missing resource %s", stage, id, next)
					continue
				}
				if state[next] == 1 {
					t.Errorf("%s: dependency cycle %v", stage, append(path, id, next))
					return true
				}
				if state[next] == 0 && visit(next, append(path, id)) {
					return true
				}
			}
			state[id] = 2
			return false
		}
		for _, id := range sortedKeys(all) {
			if state[id] == 0 && visit(id, nil) {
				break
			}
		}
	}
}

// hashRE matches the asset hashes (and the migrations hash) in a template.
var hashRE = regexp.MustCompile(`[0-9a-f]{64}`)

// normalize makes a template stable for the golden files: pretty JSON
// with sorted keys and every 64-hex hash replaced, so that rebuilding the
// binaries or changing a migration does not churn the golden.
func normalize(t *testing.T, tmpl map[string]any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(tmpl, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(hashRE.ReplaceAll(b, []byte("<hash>")), '\n')
}

func TestGolden(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		t.Run(stage, func(t *testing.T) {
			s := synth(t, stage)
			got := normalize(t, s.json)
			path := filepath.Join("testdata", stage+".template.json")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./infra -run TestGolden -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the %s template differs from %s; review the change and run go test ./infra -run TestGolden -update\n%s",
					stage, path, firstDiff(want, got))
			}
		})
	}
}

// firstDiff shows the first differing line with a little context.
func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  golden: %s\n  now:    %s", i+1, wl, gl)
		}
	}
	return ""
}

// TestDashboardHosting checks the dashboard's site: the deep-link
// CloudFront Function on the default behaviour only, no distribution-wide
// error responses (they would turn the API's 401, 403 and 404 into the
// page), /api/* to the HTTP API uncached, and the build uploaded into the
// bucket with its two cache lifetimes and an invalidation.
func TestDashboardHosting(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		t.Run(stage, func(t *testing.T) {
			s := synth(t, stage)
			fns := s.resources("AWS::CloudFront::Function")
			if len(fns) != 1 {
				t.Fatalf("%d CloudFront Functions, want 1", len(fns))
			}
			var fnID string
			for id, r := range fns {
				fnID = id
				p := props(r)
				cfgm, _ := p["FunctionConfig"].(map[string]any)
				if p["FunctionCode"] != DeepLinksCode || cfgm["Runtime"] != "cloudfront-js-2.0" || p["AutoPublish"] != true {
					t.Errorf("deep-link function: code %v, config %v, autoPublish %v", p["FunctionCode"], cfgm, p["AutoPublish"])
				}
			}
			dists := s.resources("AWS::CloudFront::Distribution")
			if len(dists) != 1 {
				t.Fatalf("%d distributions, want 1", len(dists))
			}
			for _, r := range dists {
				dc := props(r)["DistributionConfig"].(map[string]any)
				if _, ok := dc["CustomErrorResponses"]; ok {
					t.Errorf("the distribution has CustomErrorResponses %v: they would answer the API's own errors with the page", dc["CustomErrorResponses"])
				}
				def := dc["DefaultCacheBehavior"].(map[string]any)
				assoc, _ := def["FunctionAssociations"].([]any)
				if len(assoc) != 1 {
					t.Fatalf("default behaviour function associations %v, want the deep-link function", assoc)
				}
				a := assoc[0].(map[string]any)
				if a["EventType"] != "viewer-request" || !refersTo(a["FunctionARN"], fnID) {
					t.Errorf("default behaviour association %v, want viewer-request of %s", a, fnID)
				}
				if def["Compress"] != true {
					t.Errorf("the dashboard's files are not compressed")
				}
				behaviours, _ := dc["CacheBehaviors"].([]any)
				if len(behaviours) != 1 {
					t.Fatalf("cache behaviours %v, want /api/* alone", behaviours)
				}
				api := behaviours[0].(map[string]any)
				if api["PathPattern"] != "/api/*" {
					t.Errorf("behaviour %v, want /api/*", api["PathPattern"])
				}
				if _, ok := api["FunctionAssociations"]; ok {
					t.Errorf("/api/* has function associations %v: the API's paths must reach it unchanged", api["FunctionAssociations"])
				}
				methods, _ := json.Marshal(api["AllowedMethods"])
				if !strings.Contains(string(methods), "POST") || !strings.Contains(string(methods), "DELETE") {
					t.Errorf("/api/* allows %s, want every method", methods)
				}
				// /api/* goes to the HTTP API's domain, the default to S3.
				var apiOrigin, s3Origin string
				for _, o := range dc["Origins"].([]any) {
					om := o.(map[string]any)
					if _, ok := om["CustomOriginConfig"]; ok {
						apiOrigin = om["Id"].(string)
						if !refersTo(om["DomainName"], s.logicalID(t, "AWS::ApiGatewayV2::Api")) {
							t.Errorf("the custom origin %v is not the HTTP API", om["DomainName"])
						}
					}
					if _, ok := om["S3OriginConfig"]; ok {
						s3Origin = om["Id"].(string)
					}
				}
				if api["TargetOriginId"] != apiOrigin || def["TargetOriginId"] != s3Origin || apiOrigin == "" || s3Origin == "" {
					t.Errorf("origins: /api/* -> %v, default -> %v; want %q and %q", api["TargetOriginId"], def["TargetOriginId"], apiOrigin, s3Origin)
				}
			}

			// The upload: assets/* immutable, the rest no-cache with an
			// invalidation, into the dashboard bucket, nothing pruned.
			deploys := s.resources("Custom::CDKBucketDeployment")
			if len(deploys) != 2 {
				t.Fatalf("%d bucket deployments, want 2", len(deploys))
			}
			bucket := s.logicalID(t, "AWS::S3::Bucket", "DashboardHosting")
			seen := map[string]bool{}
			for id, r := range deploys {
				p := props(r)
				if !refersTo(p["DestinationBucketName"], bucket) || p["Prune"] != false {
					t.Errorf("%s: destination %v, prune %v; want the dashboard bucket, no prune", id, p["DestinationBucketName"], p["Prune"])
				}
				meta, _ := json.Marshal(p["SystemMetadata"])
				switch {
				case strings.Contains(string(meta), assetsCacheControl):
					seen["assets"] = true
					if inc, _ := json.Marshal(p["Include"]); string(inc) != `["assets/*"]` {
						t.Errorf("%s: include %s", id, inc)
					}
				case strings.Contains(string(meta), `"`+pagesCacheControl+`"`):
					seen["pages"] = true
					paths, _ := json.Marshal(p["DistributionPaths"])
					if string(paths) != `["/*"]` || p["DistributionId"] == nil {
						t.Errorf("%s: invalidation %s of %v; want /* of the distribution", id, paths, p["DistributionId"])
					}
				default:
					t.Errorf("%s: cache control %s", id, meta)
				}
			}
			if !seen["assets"] || !seen["pages"] {
				t.Errorf("uploads seen %v; want assets and pages", seen)
			}
		})
	}
}

// TestDeepLinksCode runs the CloudFront Function's code in Node (the
// runtime's ECMAScript subset is plain JavaScript) on the paths it must
// rewrite and those it must leave.
func TestDeepLinksCode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed (the CDK runs on it): %v", err)
	}
	cases := map[string]string{
		"/": "/index.html",
		"/jobs/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b": "/index.html",
		"/dlq":                      "/index.html",
		"/dlq/":                     "/index.html",
		"/system":                   "/index.html",
		"/index.html":               "/index.html",
		"/assets/index-3SR0BsvT.js": "/assets/index-3SR0BsvT.js",
		"/favicon.svg":              "/favicon.svg",
	}
	in, _ := json.Marshal(cases)
	script := DeepLinksCode + `
const cases = ` + string(in) + `;
const out = {};
for (const uri of Object.keys(cases)) {
  const req = handler({ version: '1.0', context: { eventType: 'viewer-request' }, request: { method: 'GET', uri: uri, querystring: { status: { value: 'FAILED' } }, headers: {} } });
  // The request goes on (not a response), its query string intact.
  out[uri] = req.querystring.status.value === 'FAILED' && !('statusCode' in req) ? req.uri : 'query string lost';
}
console.log(JSON.stringify(out));
`
	cmd := exec.Command(node, "-e", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	for uri, want := range cases {
		if got[uri] != want {
			t.Errorf("%s -> %s, want %s", uri, got[uri], want)
		}
	}
}

// logicalID returns the logical ID of the one resource of a type (whose
// ID starts with prefix, if given).
func (s *synthesized) logicalID(t *testing.T, typ string, prefix ...string) string {
	t.Helper()
	var ids []string
	for id := range s.resources(typ) {
		if len(prefix) == 0 || strings.HasPrefix(id, prefix[0]) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%d resources of type %s %v, want 1", len(ids), typ, prefix)
	}
	return ids[0]
}

// TestJWKSCopyCode runs the JWKS copy's handler in Node against a local
// issuer: it returns the keys (only the fields a verifier needs) as the
// resource's Jwks, keeps the physical ID on Delete without fetching, and
// fails on an empty key set or an error status, so a deploy never hands
// the api an empty or broken copy.
func TestJWKSCopyCode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed (the CDK runs on it): %v", err)
	}
	issuer := jwttest.New(t)
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"keys":[]}`)
	}))
	t.Cleanup(empty.Close)
	cases := []struct {
		name  string
		event string
		want  string // in the output: the result's JSON, or "ERROR: " and the message
	}{
		{"create", `{"RequestType":"Create","ResourceProperties":{"Url":"` + issuer.URL + `/jwks.json"}}`, `\"kid\":\"` + issuer.KeyID + `\"`},
		{"update", `{"RequestType":"Update","PhysicalResourceId":"jobweaver-jwks","ResourceProperties":{"Url":"` + issuer.URL + `/jwks.json"}}`, `"PhysicalResourceId":"jobweaver-jwks"`},
		{"delete fetches nothing", `{"RequestType":"Delete","PhysicalResourceId":"jobweaver-jwks","ResourceProperties":{"Url":"http://127.0.0.1:1/x"}}`, `{"PhysicalResourceId":"jobweaver-jwks"}`},
		{"no keys", `{"RequestType":"Create","ResourceProperties":{"Url":"` + empty.URL + `/jwks.json"}}`, "ERROR: " + empty.URL + "/jwks.json lists no keys"},
		{"issuer down", `{"RequestType":"Create","ResourceProperties":{"Url":"` + empty.URL + `/down"}}`, "ERROR: GET " + empty.URL + "/down: 503"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			script := "const module = { exports: {} }; const exports = module.exports;\n" + jwksCopy + `
exports.handler(` + c.event + `).then((r) => console.log(JSON.stringify(r)), (e) => console.log("ERROR: " + e.message));
`
			cmd := exec.Command(node, "-e", script)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			b, err := cmd.Output()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(string(b), c.want) {
				t.Fatalf("output %s, want %s", b, c.want)
			}
			if c.name != "create" {
				return
			}
			// The copy is a key set the api's Client takes, with no field
			// beyond what a verifier needs.
			var out struct{ Data struct{ Jwks string } }
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			var set struct{ Keys []map[string]any }
			if err := json.Unmarshal([]byte(out.Data.Jwks), &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("Jwks %q: %v", out.Data.Jwks, err)
			}
			for k := range set.Keys[0] {
				if !strings.Contains(" kty kid alg use n e crv x y ", " "+k+" ") {
					t.Errorf("the copy keeps field %q", k)
				}
			}
			// And the api verifies the issuer's tokens against it, with
			// the issuer down.
			client, err := oidcstatic.Client(issuer.URL, out.Data.Jwks)
			if err != nil {
				t.Fatal(err)
			}
			issuer.SetDown(true)
			defer issuer.SetDown(false)
			v := auth.NewJWTVerifier(auth.JWTConfig{Issuer: issuer.URL, Audiences: []string{"cid"}, Client: client, ScopeRoles: map[string]auth.Role{apiauth.ScopeWrite: auth.Operator}})
			tok := issuer.Sign(t, issuer.Claims("cid", "", map[string]any{"aud": nil, "client_id": "cid", "scope": apiauth.ScopeWrite}))
			if caller, err := v.Verify(context.Background(), tok); err != nil || caller.Role != auth.Operator {
				t.Fatalf("a token against the copy: %+v, %v", caller, err)
			}
		})
	}
}
