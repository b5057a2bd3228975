package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/localstack/stack"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/pgtest"
)

// fakeAWS answers the Lambda, API Gateway v2 and EventBridge calls of a
// deploy, over HTTP as LocalStack's gateway does, and keeps what they
// asked for.
type fakeAWS struct {
	t  *testing.T
	mu sync.Mutex
	// The decoded JSON bodies, by operation.
	bodies    map[string][]map[string]any
	functions map[string]map[string]any // name -> configuration
	scopes    map[string]bool           // credential scopes seen
}

func newFakeAWS(t *testing.T) (*fakeAWS, string) {
	f := &fakeAWS{t: t, bodies: map[string][]map[string]any{}, functions: map[string]map[string]any{}, scopes: map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	var in map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			f.t.Errorf("%s %s: body is not JSON: %v", r.Method, r.URL.Path, err)
		}
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		// Credential=test/20260101/us-east-1/lambda/aws4_request, ...
		if i := strings.Index(auth, "Credential=test/"); i >= 0 {
			parts := strings.Split(strings.SplitN(auth[i:], ",", 2)[0], "/")
			if len(parts) == 5 {
				f.scopes[parts[2]+"/"+parts[3]] = true
			}
		}
	}
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	record := func(op string) { f.bodies[op] = append(f.bodies[op], in) }
	path := r.URL.Path
	const fnPrefix = "/2015-03-31/functions"
	switch {
	case path == "/_localstack/health":
		reply(200, map[string]any{"services": map[string]string{"lambda": "available", "apigateway": "available", "events": "available"}, "edition": "pro", "version": "4.14.0"})

	case r.Method == "GET" && strings.HasPrefix(path, fnPrefix+"/"):
		name := strings.TrimPrefix(path, fnPrefix+"/")
		cfg, ok := f.functions[name]
		if !ok {
			w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
			reply(404, map[string]string{"Type": "User", "message": "Function not found: " + name})
			return
		}
		reply(200, map[string]any{"Configuration": cfg})
	case r.Method == "POST" && path == fnPrefix:
		record("CreateFunction")
		name, _ := in["FunctionName"].(string)
		cfg := map[string]any{
			"FunctionName": name, "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:" + name,
			"State": "Active", "LastUpdateStatus": "Successful",
		}
		f.functions[name] = cfg
		reply(201, cfg)
	case r.Method == "GET" && strings.HasSuffix(path, "/event-source-mappings/"), r.Method == "GET" && path == "/2015-03-31/event-source-mappings":
		reply(200, map[string]any{"EventSourceMappings": []any{}})
	case r.Method == "POST" && path == "/2015-03-31/event-source-mappings":
		record("CreateEventSourceMapping")
		reply(202, map[string]any{"UUID": "u", "State": "Creating"})
	case r.Method == "POST" && strings.HasSuffix(path, "/policy"):
		record("AddPermission")
		reply(201, map[string]string{"Statement": "{}"})

	case r.Method == "GET" && path == "/v2/apis":
		reply(200, map[string]any{"items": []any{}})
	case r.Method == "POST" && path == "/v2/apis":
		record("CreateApi")
		reply(201, map[string]any{"apiId": "fakeapi", "name": in["name"], "apiEndpoint": "http://fakeapi.execute-api.localhost.localstack.cloud:4566"})
	case r.Method == "GET" && strings.HasPrefix(path, "/v2/apis/fakeapi/"):
		reply(200, map[string]any{"items": []any{}})
	case r.Method == "POST" && path == "/v2/apis/fakeapi/integrations":
		record("CreateIntegration")
		reply(201, map[string]any{"integrationId": "int9"})
	case r.Method == "POST" && path == "/v2/apis/fakeapi/routes":
		record("CreateRoute")
		reply(201, map[string]any{"routeId": "r", "routeKey": in["routeKey"]})
	case r.Method == "POST" && path == "/v2/apis/fakeapi/stages":
		record("CreateStage")
		reply(201, map[string]any{"stageName": in["stageName"]})

	case r.Method == "POST" && path == "/" && r.Header.Get("X-Amz-Target") == "AWSEvents.PutRule":
		record("PutRule")
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]string{"RuleArn": "arn:aws:events:us-east-1:000000000000:rule/" + fmt.Sprint(in["Name"])})
	case r.Method == "POST" && path == "/" && r.Header.Get("X-Amz-Target") == "AWSEvents.PutTargets":
		record("PutTargets")
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]any{"FailedEntryCount": 0, "FailedEntries": []any{}})
	default:
		f.t.Errorf("unexpected call %s %s (target %q)", r.Method, path, r.Header.Get("X-Amz-Target"))
		reply(400, map[string]string{"message": "unexpected"})
	}
}

// A real (not dry) deploy, through the AWS SDK's clients, against a fake
// LocalStack gateway, a real Kafka-protocol broker (kfake) and a real
// Postgres: what reaches each is what the dry run prints.
func TestDeployThroughTheSDK(t *testing.T) {
	inBuildDir(t, elfMachineX86_64)
	fake, endpoint := newFakeAWS(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	admin := pgtest.AdminDSN(t)
	prefix := fmt.Sprintf("jwdeploy_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	t.Cleanup(func() {
		for _, fn := range stack.Functions {
			if err := pgdb.DropDatabase(context.Background(), admin, stack.Database(prefix, fn)); err != nil {
				t.Error(err)
			}
		}
	})

	// Pro: the whole API. The SDK must not read the environment's AWS settings.
	env := map[string]string{"AWS_PROFILE": "does-not-exist", "AWS_ACCESS_KEY_ID": "AKIDREAL", "LOCALSTACK_AUTH_TOKEN": "ls-test"}
	code, out, errOut := runDeploy(t, env,
		"--endpoint="+endpoint, "--kafka-brokers="+strings.Join(brokers, ","),
		"--database-url="+admin, "--database-prefix="+prefix)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "# Deployed.\n") || !strings.Contains(out, "\n# API: http://fakeapi.execute-api.localhost.localstack.cloud:4566\n") {
		t.Errorf("closing lines:\n%s", out)
	}

	// Kafka: the lifecycle topics with their partitions.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range kafka.Topics {
		if d, ok := topics[tp.Name]; !ok || int32(len(d.Partitions)) != tp.Partitions {
			t.Errorf("topic %s: %v", tp.Name, d)
		}
	}

	// Postgres: each function's database, migrated.
	for _, fn := range stack.Functions {
		dsn, _ := pgdb.WithDatabase(admin, stack.Database(prefix, fn))
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		var n int
		err = conn.QueryRow(context.Background(), `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&n)
		conn.Close(context.Background())
		if err != nil || n == 0 {
			t.Errorf("%s: %d migrations applied (%v)", fn, n, err)
		}
	}

	fake.mu.Lock()
	defer fake.mu.Unlock()
	for _, scope := range []string{"us-east-1/lambda", "us-east-1/apigateway", "us-east-1/events"} {
		if !fake.scopes[scope] {
			t.Errorf("no request signed for %s (saw %v)", scope, fake.scopes)
		}
	}
	if fake.scopes["us-east-1/lambda"] && len(fake.scopes) != 3 {
		t.Errorf("scopes %v", fake.scopes)
	}

	// Lambda: four functions from the zips, provided.al2023, bootstrap.
	creates := fake.bodies["CreateFunction"]
	if len(creates) != 4 {
		t.Fatalf("%d CreateFunction calls", len(creates))
	}
	for _, c := range creates {
		name := c["FunctionName"].(string)
		fn := strings.TrimPrefix(name, "jobweaver-")
		zipBytes, _ := os.ReadFile(filepath.Join("build", fn+".zip"))
		code, _ := c["Code"].(map[string]any)
		if got, _ := base64.StdEncoding.DecodeString(fmt.Sprint(code["ZipFile"])); string(got) != string(zipBytes) {
			t.Errorf("%s: the code is not build/%s.zip", name, fn)
		}
		vars := c["Environment"].(map[string]any)["Variables"].(map[string]any)
		wantDB := "@postgres:5432/" + stack.Database(prefix, fn) + "?"
		if c["Runtime"] != "provided.al2023" || c["Handler"] != "bootstrap" || fmt.Sprint(c["Architectures"]) != "[x86_64]" ||
			!strings.Contains(fmt.Sprint(vars["DATABASE_URL"]), wantDB) || vars["KAFKA_BROKERS"] != "redpanda:9092" {
			t.Errorf("%s: %v", name, c)
		}
	}

	// API Gateway: a Lambda proxy (2.0) to the api function, three routes,
	// an auto-deployed $default stage.
	if b := fake.bodies["CreateApi"]; len(b) != 1 || b[0]["name"] != "jobweaver" || b[0]["protocolType"] != "HTTP" {
		t.Errorf("CreateApi %v", b)
	}
	if b := fake.bodies["CreateIntegration"]; len(b) != 1 || b[0]["integrationType"] != "AWS_PROXY" || b[0]["payloadFormatVersion"] != "2.0" ||
		b[0]["integrationUri"] != "arn:aws:lambda:us-east-1:000000000000:function:jobweaver-api" {
		t.Errorf("CreateIntegration %v", b)
	}
	var keys []string
	for _, b := range fake.bodies["CreateRoute"] {
		if b["target"] != "integrations/int9" {
			t.Errorf("route %v", b)
		}
		keys = append(keys, fmt.Sprint(b["routeKey"]))
	}
	slices.Sort(keys)
	if strings.Join(keys, ",") != "ANY /actuator/health,ANY /api/{proxy+},ANY /health" {
		t.Errorf("routes %v", keys)
	}
	if b := fake.bodies["CreateStage"]; len(b) != 1 || b[0]["stageName"] != "$default" || b[0]["autoDeploy"] != true {
		t.Errorf("CreateStage %v", b)
	}

	// EventBridge: the tick every minute, to the scheduler, which allows it.
	if b := fake.bodies["PutRule"]; len(b) != 1 || b[0]["ScheduleExpression"] != "rate(1 minute)" || b[0]["Name"] != stack.TickRule {
		t.Errorf("PutRule %v", b)
	}
	if b := fake.bodies["PutTargets"]; len(b) != 1 || !strings.Contains(fmt.Sprint(b[0]["Targets"]), "function:jobweaver-scheduler") {
		t.Errorf("PutTargets %v", b)
	}
	// Kafka: LocalStack Pro's self-managed event-source mappings, one per route.
	var groups []string
	for _, b := range fake.bodies["CreateEventSourceMapping"] {
		cfg, _ := b["SelfManagedKafkaEventSourceConfig"].(map[string]any)
		groups = append(groups, fmt.Sprint(cfg["ConsumerGroupId"]))
		if b["StartingPosition"] != "TRIM_HORIZON" || !strings.Contains(fmt.Sprint(b["SelfManagedEventSource"]), "KAFKA_BOOTSTRAP_SERVERS:[redpanda:9092]") {
			t.Errorf("event-source mapping %v", b)
		}
	}
	if len(groups) != len(stack.Routes) {
		t.Errorf("event-source mappings for groups %v", groups)
	}
	var principals []string
	for _, b := range fake.bodies["AddPermission"] {
		principals = append(principals, fmt.Sprint(b["Principal"]))
	}
	slices.Sort(principals)
	if strings.Join(principals, ",") != "apigateway.amazonaws.com,events.amazonaws.com" {
		t.Errorf("permissions for %v", principals)
	}
}
