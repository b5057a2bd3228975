package main

import (
	"archive/zip"
	"bytes"
	"context"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	apitypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/jobweaver/jobweaver/localstack/stack"
	"github.com/jobweaver/jobweaver/shared/kafka"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fakeELF is the start of a 64-bit little-endian ELF executable for machine.
func fakeELF(machine uint16) []byte {
	h := make([]byte, 64)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = 2, 1, 1
	h[16] = 2 // ET_EXEC
	h[18], h[19] = byte(machine), byte(machine>>8)
	return h
}

// writeZip writes a deployment package with fixed timestamps.
func writeZip(t *testing.T, path, name string, mode fs.FileMode, content []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(mode)
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// inBuildDir makes a working directory with build/<fn>.zip for every
// function (machine 0: none).
func inBuildDir(t *testing.T, machine uint16) {
	t.Helper()
	dir := t.TempDir()
	for _, fn := range stack.Functions {
		if machine != 0 {
			writeZip(t, filepath.Join(dir, "build", fn+".zip"), "bootstrap", 0o755, fakeELF(machine))
		}
	}
	t.Chdir(dir)
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func runDeploy(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, envOf(env), &out, &errOut)
	return code, out.String(), errOut.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./localstack/deploy -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./localstack/deploy -update rewrites it):\n%s", path, lineDiff(string(want), got))
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
		}
	}
	return b.String()
}

var goldenDir = func() string {
	d, err := filepath.Abs("testdata")
	if err != nil {
		panic(err)
	}
	return d
}()

// The dry run prints every call, in order, for a fresh LocalStack.
func TestDryRunGolden(t *testing.T) {
	for _, c := range []struct {
		golden  string
		machine uint16 // of the built bootstraps; 0: not built
		host    string // GOARCH of this machine
		env     map[string]string
		args    []string
	}{
		// Community: the bridge stands in for the event-source mappings.
		{"dry-run-community.golden", elfMachineX86_64, "amd64", map[string]string{}, nil},
		// A Pro token: real self-managed Kafka event-source mappings. The
		// functions are arm64 (make build's default) on an x86-64 machine.
		{"dry-run-pro.golden", elfMachineAArch64, "amd64", map[string]string{"LOCALSTACK_AUTH_TOKEN": "ls-SECRET-token-value"}, nil},
		// Nothing built yet, settings from flags and the environment; auth
		// on as in AWS, with an admin key that is never printed.
		{"dry-run-not-built.golden", 0, "arm64",
			map[string]string{"AWS_REGION": "eu-west-1", "FUNCTION_PREFIX": "from-env-", "ESM_BATCH_SIZE": "10",
				"API_AUTH": "keys,jwt", "API_ADMIN_KEY": "jw_SECRET0000000000000000000000000000000000000000000",
				"AUTH_JWT_ISSUER": "http://issuer.example:8080", "AUTH_JWT_AUDIENCE": "a,b", "AUTH_JWT_SCOPE_ROLES": "jobweaver/read=viewer,jobweaver/write=operator"},
			[]string{"--function-prefix=dev-", "--edition=pro", "--batch-window=2", "--log-level=debug",
				"--endpoint=http://127.0.0.1:4599", "--database-url=postgres://admin:pw@127.0.0.1:5999/postgres?sslmode=disable"}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			inBuildDir(t, c.machine)
			old := goarch
			goarch = c.host
			defer func() { goarch = old }()
			code, out, errOut := runDeploy(t, c.env, append([]string{"--dry-run"}, c.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if strings.Contains(out, "SECRET") {
				t.Fatal("the dry run printed LOCALSTACK_AUTH_TOKEN or API_ADMIN_KEY")
			}
			checkGolden(t, c.golden, out)
		})
	}
}

// What the golden files say, checked in plain words, so that a careless
// -update cannot bless a wrong deploy.
func TestDryRunMakesEveryCall(t *testing.T) {
	inBuildDir(t, elfMachineX86_64)
	for _, pro := range []bool{false, true} {
		env := map[string]string{}
		if pro {
			env["LOCALSTACK_AUTH_TOKEN"] = "t"
		}
		code, out, errOut := runDeploy(t, env, "--dry-run")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		count := func(prefix string) int {
			n := 0
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, prefix) {
					n++
				}
			}
			return n
		}
		apiGateway := 0
		if pro {
			apiGateway = 1
		}
		for prefix, want := range map[string]int{
			"kafka CreateTopics ":                               1,
			"postgres CreateDatabase ":                          4,
			"postgres Migrate ":                                 4,
			"lambda CreateFunction ":                            4,
			"lambda WaitFunctionActiveV2 ":                      4,
			`lambda CreateFunction {"Architectures":["x86_64"]`: 4,
			"apigatewayv2 ":                                     10 * apiGateway,
			"apigatewayv2 CreateApi ":                           apiGateway,
			`apigatewayv2 CreateIntegration {"ApiId":"<api-id>","IntegrationType":"AWS_PROXY","IntegrationUri":"arn:aws:lambda:us-east-1:000000000000:function:jobweaver-api","PayloadFormatVersion":"2.0"`: apiGateway,
			`apigatewayv2 CreateRoute {"ApiId":"<api-id>","RouteKey":"ANY /api/{proxy+}"`:                                                                                                                   apiGateway,
			`apigatewayv2 CreateRoute {"ApiId":"<api-id>","RouteKey":"ANY /health"`:                                                                                                                         apiGateway,
			`apigatewayv2 CreateRoute {"ApiId":"<api-id>","RouteKey":"ANY /actuator/health"`:                                                                                                                apiGateway,
			`apigatewayv2 CreateStage {"ApiId":"<api-id>","AutoDeploy":true,"StageName":"$default"}`:                                                                                                        apiGateway,
			`lambda AddPermission {"Action":"lambda:InvokeFunction","FunctionName":"jobweaver-api","Principal":"apigateway.amazonaws.com"`:                                                                  apiGateway,
			`events PutRule {"Description":`: 1,
			`lambda AddPermission {"Action":"lambda:InvokeFunction","FunctionName":"jobweaver-scheduler","Principal":"events.amazonaws.com","SourceArn":"arn:aws:events:us-east-1:000000000000:rule/jobweaver-scheduler-tick"`: 1,
			`events PutTargets {"Rule":"jobweaver-scheduler-tick","Targets":[{"Arn":"arn:aws:lambda:us-east-1:000000000000:function:jobweaver-scheduler","Id":"scheduler"}]}`:                                                  1,
		} {
			if got := count(prefix); got != want {
				t.Errorf("pro=%v: %d lines start with %s; want %d", pro, got, prefix, want)
			}
		}
		if !strings.Contains(out, `"ScheduleExpression":"rate(1 minute)"`) {
			t.Errorf("pro=%v: no rate(1 minute) schedule", pro)
		}
		for _, fn := range []string{"api", "scheduler", "worker", "dlq"} {
			if !strings.Contains(out, `"DATABASE_URL":"postgres://postgres:postgres@postgres:5432/jobweaver_`+fn+`?sslmode=disable"`) {
				t.Errorf("pro=%v: %s's DATABASE_URL is not its database on the compose Postgres", pro, fn)
			}
		}
		if !strings.Contains(out, `"KAFKA_BROKERS":"redpanda:9092"`) ||
			!strings.Contains(out, `"DLQ_FUNCTION_NAME":"jobweaver-dlq","KAFKA_BROKERS":"redpanda:9092","KAFKA_GROUP_PREFIX":"jobweaver-","LAG_SOURCE":"kafka","LOG_LEVEL":"info","SCHEDULER_FUNCTION_NAME":"jobweaver-scheduler","WORKER_FUNCTION_NAME":"jobweaver-worker"`) {
			t.Errorf("pro=%v: the api's environment lacks the brokers, the function names or the lag reader (kafka)", pro)
		}
		mappings := count("lambda CreateEventSourceMapping ")
		if pro {
			if mappings != len(stack.Routes) || count("lambda ListEventSourceMappings ") != 3 {
				t.Errorf("pro: %d event-source mappings; want %d", mappings, len(stack.Routes))
			}
			for _, r := range stack.Routes {
				want := `"SelfManagedEventSource":{"Endpoints":{"KAFKA_BOOTSTRAP_SERVERS":["redpanda:9092"]}},"SelfManagedKafkaEventSourceConfig":{"ConsumerGroupId":"` + r.Group + `"},"StartingPosition":"TRIM_HORIZON","Topics":["` + r.Topic + `"]}`
				if !strings.Contains(out, want) {
					t.Errorf("pro: no mapping %s", want)
				}
			}
		} else if mappings != 0 || !strings.Contains(out, "# Next, in another terminal: make localstack-bridge.") ||
			!strings.Contains(out, "curl -s http://127.0.0.1:8090/health") {
			t.Errorf("community: %d event-source mappings, or no pointer to the bridge and its API", mappings)
		}
	}
}

func TestSettingsErrorsNameTheVariable(t *testing.T) {
	inBuildDir(t, elfMachineX86_64)
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"FUNCTION_MEMORY_MB": "lots"}, nil, `localstack-deploy: config: FUNCTION_MEMORY_MB must be an integer from 128 to 10240 (got "lots")`},
		{nil, []string{"--timeout=0"}, `localstack-deploy: config: FUNCTION_TIMEOUT_SECONDS must be an integer from 1 to 900 (got "0")`},
		{nil, []string{"--worker-timeout=60"}, `localstack-deploy: config: WORKER_TIMEOUT_SECONDS (1m0s) must be at least 1m31s: a step may run up to 1m0s (jobspec.MaxStepMs, or a SLEEP up to WORKER_PARK_THRESHOLD (2s) runs inline), steps stop 1s before the deadline, and an invocation needs 30s besides`},
		{map[string]string{"LOCALSTACK_EDITION": "enterprise"}, nil, `localstack-deploy: config: LOCALSTACK_EDITION must be one of auto, community or pro (got "enterprise")`},
		{map[string]string{"KAFKA_AUTH": "kerberos"}, nil, `localstack-deploy: config: KAFKA_AUTH must be one of none, tls, iam or scram (got "kerberos")`},
	} {
		code, out, errOut := runDeploy(t, c.env, append([]string{"--dry-run"}, c.args...)...)
		if code != 2 || strings.TrimSpace(errOut) != c.want || out != "" {
			t.Errorf("%v %v: exit %d, stderr %q, stdout %q; want 2, %q", c.env, c.args, code, errOut, out, c.want)
		}
	}
	if code, _, _ := runDeploy(t, nil, "--dry-run", "extra"); code != 2 {
		t.Errorf("an argument: exit %d; want 2", code)
	}
	code, _, errOut := runDeploy(t, nil, "--help")
	if code != 0 || !strings.Contains(errOut, "--dry-run") || !strings.Contains(errOut, "LOCALSTACK_ENDPOINT") {
		t.Errorf("--help: exit %d, %q", code, errOut)
	}
}

// A real deploy checks every package before it contacts anything.
func TestDeployNeedsTheBuild(t *testing.T) {
	inBuildDir(t, 0)
	code, out, errOut := runDeploy(t, map[string]string{"LOCALSTACK_ENDPOINT": "http://127.0.0.1:1"})
	if code != 1 || !strings.Contains(errOut, "build/scheduler.zip not found: run `make build` first") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if strings.Contains(out, "GetHealth") {
		t.Error("contacted LocalStack before checking the build")
	}
}

func TestBootstrapChecks(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, entry string
		mode        fs.FileMode
		content     []byte
		arch        lambdatypes.Architecture
		err         string
	}{
		{"x86", "bootstrap", 0o755, fakeELF(elfMachineX86_64), lambdatypes.ArchitectureX8664, ""},
		{"arm", "bootstrap", 0o755, fakeELF(elfMachineAArch64), lambdatypes.ArchitectureArm64, ""},
		{"nested", "api/bootstrap", 0o755, fakeELF(elfMachineX86_64), "", "no bootstrap file at the root of the zip"},
		{"mode", "bootstrap", 0o644, fakeELF(elfMachineX86_64), "", "bootstrap is not executable"},
		{"script", "bootstrap", 0o755, []byte("#!/bin/sh\necho hi\n"), "", "bootstrap is not an ELF executable"},
		{"riscv", "bootstrap", 0o755, fakeELF(0xf3), "", "ELF machine 0xf3"},
	} {
		path := filepath.Join(dir, c.name+".zip")
		writeZip(t, path, c.entry, c.mode, c.content)
		b, err := readBundle(path, false)
		if c.err == "" {
			if err != nil || b.Arch != c.arch || !b.Found || len(b.Zip) == 0 {
				t.Errorf("%s: %+v, %v", c.name, b.Arch, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), path+": ") {
			t.Errorf("%s: error %v; want one naming %s and saying %q", c.name, err, path, c.err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "junk.zip"), []byte("not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readBundle(filepath.Join(dir, "junk.zip"), true); err == nil || !strings.Contains(err.Error(), "not a zip file") {
		t.Errorf("junk: %v", err)
	}
	if b, err := readBundle(filepath.Join(dir, "missing.zip"), true); err != nil || b.Found {
		t.Errorf("missing, dry run: %+v, %v", b, err)
	}
}

// A deploy against a LocalStack that already has everything updates the
// functions and creates nothing twice; one against a community LocalStack
// with Pro mappings asked for stops before changing anything.
func TestDeployAgainIsIdempotent(t *testing.T) {
	inBuildDir(t, elfMachineX86_64)
	fake := newFakeStack("pro")
	s := settings{
		Endpoint: "http://localstack.test:4566", Region: "us-east-1", BuildDir: "build", Prefix: "jobweaver-",
		Kafka: kafka.Config{Brokers: []string{"localhost:19092"}}, DatabaseURL: stack.HostDatabaseURL, DatabasePrefix: "jobweaver",
		FunctionBrokers: "redpanda:9092", FunctionDBHost: "postgres:5432", MemoryMB: 512, TimeoutSeconds: 60,
		LogLevel: "info", BatchSize: 100, Edition: editionPro, Pro: true,
	}
	deploy := func() (string, result) {
		var out bytes.Buffer
		d := &deployer{s: s, c: fake.clients(), out: &out}
		res, err := d.run(context.Background())
		if err != nil {
			t.Fatalf("deploy: %v\n%s", err, out.String())
		}
		return out.String(), res
	}
	first, res := deploy()
	if res.APIEndpoint != "http://api1.execute-api.localhost.localstack.cloud:4566" || res.FunctionARN["api"] != functionARN("us-east-1", "jobweaver-api") {
		t.Errorf("result %+v", res)
	}
	second, _ := deploy()
	for _, c := range []struct {
		out          string
		prefix       string
		first, again int
	}{
		{first, "lambda CreateFunction ", 4, 0},
		{second, "lambda CreateFunction ", 0, 0},
		{second, "lambda UpdateFunctionCode ", 0, 4},
		{second, "lambda UpdateFunctionConfiguration ", 0, 4},
		{second, "lambda WaitFunctionUpdatedV2 ", 0, 8},
		{second, "apigatewayv2 CreateApi ", 0, 0},
		{second, "apigatewayv2 CreateIntegration ", 0, 0},
		{second, "apigatewayv2 CreateRoute ", 0, 0},
		{second, "apigatewayv2 CreateStage ", 0, 0},
		{second, "lambda CreateEventSourceMapping ", 0, 0},
		{second, "# permission jobweaver-", 0, 2},
		{second, "events PutRule ", 0, 1},
		{second, "events PutTargets ", 0, 1},
	} {
		n := strings.Count("\n"+c.out, "\n"+c.prefix)
		want := c.first
		if c.out == second {
			want = c.again
		}
		if n != want {
			t.Errorf("%d lines %q; want %d", n, c.prefix, want)
		}
	}
	if len(fake.routes["api1"]) != 3 || len(fake.esms) != len(stack.Routes) || len(fake.functions) != 4 || fake.migrated != 8 {
		t.Errorf("state: routes %v, %d mappings, %d functions, %d migrations", fake.routes["api1"], len(fake.esms), len(fake.functions), fake.migrated)
	}
	if fake.functions["jobweaver-api"].Environment.Variables["SCHEDULER_FUNCTION_NAME"] != "jobweaver-scheduler" {
		t.Errorf("api environment %v", fake.functions["jobweaver-api"].Environment.Variables)
	}

	community := newFakeStack("community")
	var out bytes.Buffer
	_, err := (&deployer{s: s, c: community.clients(), out: &out}).run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "community edition, which has neither API Gateway v2 nor Kafka event-source mappings") || len(community.functions) != 0 || community.topics {
		t.Errorf("Pro mappings on community: %v; %d functions", err, len(community.functions))
	}
}

// fakeStack is an in-memory LocalStack (and Redpanda and Postgres) that
// keeps what is created, for the idempotency test.
type fakeStack struct {
	mu          sync.Mutex
	edition     string
	functions   map[string]*lambdatypes.FunctionConfiguration
	permissions map[string]bool
	esms        []lambdatypes.EventSourceMappingConfiguration
	apis        []apitypes.Api
	ints        map[string][]apitypes.Integration
	routes      map[string][]string
	stages      map[string][]string
	topics      bool
	migrated    int
}

func newFakeStack(edition string) *fakeStack {
	return &fakeStack{
		edition: edition, functions: map[string]*lambdatypes.FunctionConfiguration{}, permissions: map[string]bool{},
		ints: map[string][]apitypes.Integration{}, routes: map[string][]string{}, stages: map[string][]string{},
	}
}

func (f *fakeStack) clients() *clients {
	return &clients{Lambda: fakeLambda{f}, APIGW: fakeAPIGW{f}, Events: fakeEvents{f}, Infra: fakeInfra{f}}
}

type fakeLambda struct{ f *fakeStack }

func (l fakeLambda) GetFunction(_ context.Context, in *lambda.GetFunctionInput, _ ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error) {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	c, ok := l.f.functions[aws.ToString(in.FunctionName)]
	if !ok {
		return nil, &lambdatypes.ResourceNotFoundException{Message: aws.String("not found")}
	}
	return &lambda.GetFunctionOutput{Configuration: c}, nil
}

func (l fakeLambda) CreateFunction(_ context.Context, in *lambda.CreateFunctionInput, _ ...func(*lambda.Options)) (*lambda.CreateFunctionOutput, error) {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	name := aws.ToString(in.FunctionName)
	if len(in.Code.ZipFile) == 0 {
		return nil, &lambdatypes.InvalidParameterValueException{Message: aws.String("no code")}
	}
	l.f.functions[name] = &lambdatypes.FunctionConfiguration{
		FunctionName: in.FunctionName, FunctionArn: aws.String(functionARN("us-east-1", name)), Environment: &lambdatypes.EnvironmentResponse{Variables: in.Environment.Variables},
		State: lambdatypes.StateActive, LastUpdateStatus: lambdatypes.LastUpdateStatusSuccessful,
	}
	return &lambda.CreateFunctionOutput{FunctionArn: l.f.functions[name].FunctionArn}, nil
}

func (l fakeLambda) UpdateFunctionCode(_ context.Context, in *lambda.UpdateFunctionCodeInput, _ ...func(*lambda.Options)) (*lambda.UpdateFunctionCodeOutput, error) {
	if len(in.ZipFile) == 0 {
		return nil, &lambdatypes.InvalidParameterValueException{Message: aws.String("no code")}
	}
	return &lambda.UpdateFunctionCodeOutput{FunctionArn: aws.String(functionARN("us-east-1", aws.ToString(in.FunctionName)))}, nil
}

func (l fakeLambda) UpdateFunctionConfiguration(_ context.Context, in *lambda.UpdateFunctionConfigurationInput, _ ...func(*lambda.Options)) (*lambda.UpdateFunctionConfigurationOutput, error) {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	l.f.functions[aws.ToString(in.FunctionName)].Environment.Variables = in.Environment.Variables
	return &lambda.UpdateFunctionConfigurationOutput{FunctionArn: aws.String(functionARN("us-east-1", aws.ToString(in.FunctionName)))}, nil
}

func (l fakeLambda) AddPermission(_ context.Context, in *lambda.AddPermissionInput, _ ...func(*lambda.Options)) (*lambda.AddPermissionOutput, error) {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	key := aws.ToString(in.FunctionName) + "/" + aws.ToString(in.StatementId)
	if l.f.permissions[key] {
		return nil, &lambdatypes.ResourceConflictException{Message: aws.String("statement exists")}
	}
	l.f.permissions[key] = true
	return &lambda.AddPermissionOutput{}, nil
}

func (l fakeLambda) ListEventSourceMappings(_ context.Context, in *lambda.ListEventSourceMappingsInput, _ ...func(*lambda.Options)) (*lambda.ListEventSourceMappingsOutput, error) {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	var out []lambdatypes.EventSourceMappingConfiguration
	for _, m := range l.f.esms {
		if aws.ToString(m.FunctionArn) == functionARN("us-east-1", aws.ToString(in.FunctionName)) {
			out = append(out, m)
		}
	}
	return &lambda.ListEventSourceMappingsOutput{EventSourceMappings: out}, nil
}

func (l fakeLambda) CreateEventSourceMapping(_ context.Context, in *lambda.CreateEventSourceMappingInput, _ ...func(*lambda.Options)) (*lambda.CreateEventSourceMappingOutput, error) {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	l.f.esms = append(l.f.esms, lambdatypes.EventSourceMappingConfiguration{
		FunctionArn: aws.String(functionARN("us-east-1", aws.ToString(in.FunctionName))), Topics: in.Topics,
	})
	return &lambda.CreateEventSourceMappingOutput{UUID: aws.String("m")}, nil
}

type fakeAPIGW struct{ f *fakeStack }

func (a fakeAPIGW) GetApis(context.Context, *apigatewayv2.GetApisInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.GetApisOutput, error) {
	return &apigatewayv2.GetApisOutput{Items: slices.Clone(a.f.apis)}, nil
}

func (a fakeAPIGW) CreateApi(_ context.Context, in *apigatewayv2.CreateApiInput, _ ...func(*apigatewayv2.Options)) (*apigatewayv2.CreateApiOutput, error) {
	id := "api" + strconv.Itoa(len(a.f.apis)+1)
	ep := "http://" + id + ".execute-api.localhost.localstack.cloud:4566"
	a.f.apis = append(a.f.apis, apitypes.Api{ApiId: aws.String(id), Name: in.Name, ApiEndpoint: aws.String(ep)})
	return &apigatewayv2.CreateApiOutput{ApiId: aws.String(id), ApiEndpoint: aws.String(ep)}, nil
}

func (a fakeAPIGW) GetIntegrations(_ context.Context, in *apigatewayv2.GetIntegrationsInput, _ ...func(*apigatewayv2.Options)) (*apigatewayv2.GetIntegrationsOutput, error) {
	return &apigatewayv2.GetIntegrationsOutput{Items: a.f.ints[aws.ToString(in.ApiId)]}, nil
}

func (a fakeAPIGW) CreateIntegration(_ context.Context, in *apigatewayv2.CreateIntegrationInput, _ ...func(*apigatewayv2.Options)) (*apigatewayv2.CreateIntegrationOutput, error) {
	id := aws.ToString(in.ApiId)
	a.f.ints[id] = append(a.f.ints[id], apitypes.Integration{IntegrationId: aws.String("int1"), IntegrationUri: in.IntegrationUri})
	return &apigatewayv2.CreateIntegrationOutput{IntegrationId: aws.String("int1")}, nil
}

func (a fakeAPIGW) GetRoutes(_ context.Context, in *apigatewayv2.GetRoutesInput, _ ...func(*apigatewayv2.Options)) (*apigatewayv2.GetRoutesOutput, error) {
	var items []apitypes.Route
	for _, k := range a.f.routes[aws.ToString(in.ApiId)] {
		items = append(items, apitypes.Route{RouteKey: aws.String(k)})
	}
	return &apigatewayv2.GetRoutesOutput{Items: items}, nil
}

func (a fakeAPIGW) CreateRoute(_ context.Context, in *apigatewayv2.CreateRouteInput, _ ...func(*apigatewayv2.Options)) (*apigatewayv2.CreateRouteOutput, error) {
	if aws.ToString(in.Target) != "integrations/int1" {
		return nil, &apitypes.BadRequestException{Message: aws.String("bad target " + aws.ToString(in.Target))}
	}
	id := aws.ToString(in.ApiId)
	a.f.routes[id] = append(a.f.routes[id], aws.ToString(in.RouteKey))
	return &apigatewayv2.CreateRouteOutput{}, nil
}

func (a fakeAPIGW) GetStages(_ context.Context, in *apigatewayv2.GetStagesInput, _ ...func(*apigatewayv2.Options)) (*apigatewayv2.GetStagesOutput, error) {
	var items []apitypes.Stage
	for _, s := range a.f.stages[aws.ToString(in.ApiId)] {
		items = append(items, apitypes.Stage{StageName: aws.String(s)})
	}
	return &apigatewayv2.GetStagesOutput{Items: items}, nil
}

func (a fakeAPIGW) CreateStage(_ context.Context, in *apigatewayv2.CreateStageInput, _ ...func(*apigatewayv2.Options)) (*apigatewayv2.CreateStageOutput, error) {
	id := aws.ToString(in.ApiId)
	a.f.stages[id] = append(a.f.stages[id], aws.ToString(in.StageName))
	return &apigatewayv2.CreateStageOutput{}, nil
}

type fakeEvents struct{ f *fakeStack }

func (fakeEvents) PutRule(_ context.Context, in *eventbridge.PutRuleInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutRuleOutput, error) {
	return &eventbridge.PutRuleOutput{RuleArn: aws.String("arn:aws:events:us-east-1:000000000000:rule/" + aws.ToString(in.Name))}, nil
}

func (fakeEvents) PutTargets(context.Context, *eventbridge.PutTargetsInput, ...func(*eventbridge.Options)) (*eventbridge.PutTargetsOutput, error) {
	return &eventbridge.PutTargetsOutput{}, nil
}

type fakeInfra struct{ f *fakeStack }

func (i fakeInfra) Health(context.Context) (string, error) { return i.f.edition, nil }
func (i fakeInfra) CreateTopics(_ context.Context, ts []kafka.Topic) error {
	i.f.topics = len(ts) == len(kafka.Topics)
	return nil
}
func (fakeInfra) CreateDatabase(context.Context, string) error { return nil }
func (i fakeInfra) Migrate(_ context.Context, _ string, m fs.FS) error {
	if entries, err := fs.ReadDir(m, "."); err != nil || len(entries) == 0 {
		return fs.ErrNotExist
	}
	i.f.migrated++
	return nil
}
