package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/api"
	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/scheduler"
	"github.com/jobweaver/jobweaver/shared/testwait"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// The functions' binaries must stay small and deployable: nothing of the
// CDK (jsii), of the local stack or of test brokers.
func TestFunctionsDoNotImportTheCDKOrTheLocalStack(t *testing.T) {
	ctx := context.Background()
	root, err := Root(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := goCmd(ctx, root, []string{"CGO_ENABLED=0", "GOOS=linux"}, "list", "-tags", "lambda.norpc", "-deps", "./functions/...")
	if err != nil {
		t.Fatal(err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/aws/aws-lambda-go/lambda") {
		t.Fatalf("go list -deps ./functions/... looks wrong: %d packages", len(deps))
	}
	for _, d := range deps {
		for _, bad := range []string{"github.com/aws/aws-cdk-go", "github.com/aws/jsii-runtime-go", "github.com/aws/constructs-go",
			"github.com/twmb/franz-go/pkg/kfake", "github.com/jobweaver/jobweaver/shared/devstack", "github.com/jobweaver/jobweaver/shared/emulator",
			"github.com/jobweaver/jobweaver/shared/pgtest", "github.com/jobweaver/jobweaver/shared/kafkatest", "testing"} {
			if d == bad || strings.HasPrefix(d, bad+"/") {
				t.Errorf("a function depends on %s", d)
			}
		}
	}
}

// A function started without a required setting fails its init, and its
// log holds one line that names the variable.
func TestInitFailsWithOneLineNamingTheVariable(t *testing.T) {
	binaries(t)
	full := map[string]string{
		"DATABASE_URL": "postgres://postgres@127.0.0.1:1/none", "KAFKA_BROKERS": "127.0.0.1:1",
		"SCHEDULER_FUNCTION_NAME": "s", "WORKER_FUNCTION_NAME": "w", "DLQ_FUNCTION_NAME": "d",
	}
	without := func(keys ...string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			if !slices.Contains(keys, k) {
				m[k] = v
			}
		}
		return m
	}
	with := func(k, v string) map[string]string {
		m := without()
		m[k] = v
		return m
	}
	cases := []struct {
		fn   string
		env  map[string]string
		want string
	}{
		{"api", nil, "api: config: SCHEDULER_FUNCTION_NAME is required but not set"},
		{"api", without("DLQ_FUNCTION_NAME"), "api: config: DLQ_FUNCTION_NAME is required but not set"},
		{"api", without("DATABASE_URL"), "api: config: DATABASE_URL is required but not set"},
		{"api", with("LAG_SOURCE", "prometheus"), "api: config: LAG_SOURCE must be none, kafka or cloudwatch"},
		{"scheduler", nil, "scheduler: config: DATABASE_URL is required but not set"},
		{"scheduler", without("KAFKA_BROKERS"), "scheduler: config: KAFKA_BROKERS is required but not set"},
		{"scheduler", with("SCHEDULER_LEASE", "soon"), "scheduler: config: SCHEDULER_LEASE must be"},
		{"worker", nil, "worker: config: DATABASE_URL is required but not set"},
		{"worker", with("WORKER_HTTP_ALLOWLIST", "not a cidr/99"), "worker: config: WORKER_HTTP_ALLOWLIST"},
		{"dlq", nil, "dlq: config: DATABASE_URL is required but not set"},
		{"dlq", with("DB_MAX_CONNS", "0"), "dlq: config: DB_MAX_CONNS must be"},
		{"dlq", full, "dlq: pgdb: postgres://postgres@127.0.0.1:1/none does not answer"},
	}
	var fns []Function
	for i, c := range cases {
		fns = append(fns, Function{Name: fmt.Sprintf("case%d", i), Bootstrap: bootstraps[c.fn], Env: c.env, Timeout: 10 * time.Second})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{RIE: rieBin}, fns...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, tc := range cases {
		name := fmt.Sprintf("case%d", i)
		t.Run(tc.fn+"/"+tc.want, func(t *testing.T) {
			l := invoke.NewLambdaAt(c.URL, map[string]string{tc.fn: c.DeployedName(name)})
			_, err := l.Invoke(ctx, tc.fn, []byte(`{"version":"2.0","routeKey":"$default","rawPath":"/health","requestContext":{"http":{"method":"GET","path":"/health"}}}`))
			wantFunctionError(t, err, "Runtime.ExitError", "init")
			lines := waitLine(t, c, name, tc.want)
			t.Logf("%s", lines[0])
			if len(lines) != 1 {
				t.Errorf("init failure printed %d lines; want one:\n%s", len(lines), strings.Join(lines, "\n"))
			}
		})
	}
}

// TestColdStart measures each function's init and first invocation under
// the emulator, on its real database and broker, then warm invocations.
// docs/lambda.md reports the numbers.
func TestColdStart(t *testing.T) {
	binaries(t)
	brokers := kafkatest.Cluster(t)
	dbs := map[string]string{
		"api":       pgtest.Pool(t, api.Migrations()).Config().ConnString(),
		"scheduler": pgtest.Pool(t, scheduler.Migrations()).Config().ConnString(),
		"worker":    pgtest.Pool(t, worker.Migrations()).Config().ConnString(),
		"dlq":       pgtest.Pool(t, dlq.Migrations()).Config().ConnString(),
	}
	env := devstack.FunctionEnv{}
	for fn, db := range dbs {
		env[fn] = map[string]string{"DATABASE_URL": db, "KAFKA_BROKERS": strings.Join(brokers, ","), "DB_MAX_CONNS": "4",
			"SCHEDULER_TICK_MARGIN": "30s", "LOG_LEVEL": "warn"}
	}
	var c *Cluster
	p := &Platform{RIE: rieBin, Bootstraps: bootstraps, Started: func(cl *Cluster) { c = cl }}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inv, err := p.Remote()(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dumpOnFailure(t, &c, Functions...)

	job := `{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"cold"}]},"maxRetryCount":0}`
	tick, _ := json.Marshal(devstack.ScheduledEvent(time.Now()))
	calls := []struct {
		fn, what string
		do       func() error
	}{
		{"api", "POST /api/jobs (insert + first produce)", func() error { return httpCall(ctx, inv, "api", "POST", "/api/jobs", job, http.StatusAccepted) }},
		{"scheduler", "GET /internal/jobs (a query)", func() error { return httpCall(ctx, inv, "scheduler", "GET", "/internal/jobs", "", 200) }},
		{"scheduler", "scheduled tick (one dispatch pass)", func() error { _, err := inv.Invoke(ctx, "scheduler", tick); return err }},
		{"worker", "GET /internal/executions/{id} (a query)", func() error {
			return httpCall(ctx, inv, "worker", "GET", "/internal/executions/6f1f5d6e-8d7e-4c43-9a55-1f1d4b0c2e10", "", 200)
		}},
		{"dlq", "GET /internal/dlq (a query)", func() error { return httpCall(ctx, inv, "dlq", "GET", "/internal/dlq", "", 200) }},
	}
	t.Logf("%-10s %-42s %8s %12s %12s", "function", "first invocation", "init", "first (wall)", "warm median")
	for _, call := range calls {
		before := len(c.Invocations(call.fn))
		for i := range 6 {
			if err := call.do(); err != nil {
				t.Fatalf("%s %s (#%d): %v", call.fn, call.what, i+1, err)
			}
		}
		invs := c.Invocations(call.fn)[before:]
		var warm []time.Duration
		for _, iv := range invs[1:] {
			warm = append(warm, iv.Wall)
		}
		sort.Slice(warm, func(i, j int) bool { return warm[i] < warm[j] })
		init := time.Duration(0)
		if invs[0].Cold {
			init = waitInit(t, c, call.fn)
		}
		t.Logf("%-10s %-42s %8s %12s %12s", call.fn, call.what, ms(init), ms(invs[0].Wall), ms(warm[len(warm)/2]))
	}
}

func waitInit(t *testing.T, c *Cluster, fn string) time.Duration {
	t.Helper()
	var init time.Duration
	var reports []Report
	testwait.EventuallyState(t, 5*time.Second, fn+" reports an init", func() bool {
		reports = c.Reports(fn)
		for _, r := range reports {
			if r.Init > 0 {
				init = r.Init
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprintf("reports %+v", reports) })
	return init
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

// httpCall sends an internal HTTP call (an API Gateway event) and checks
// its status.
func httpCall(ctx context.Context, inv invoke.Invoker, fn, method, path, body string, want int) error {
	u, _ := url.Parse(path)
	status, resp, err := invoke.HTTP(ctx, inv, fn, method, u.Path, u.Query(), []byte(body))
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s = %d %s; want %d", method, path, status, resp, want)
	}
	return nil
}

// The cost of DB_MIGRATE=true at init, which the functions leave off by
// default (migrations run at deploy time): the api's init on a fresh
// database (applies every migration) and on a migrated one (takes the
// lock and checks the versions), against the default.
func TestColdStartWithMigrations(t *testing.T) {
	binaries(t)
	brokers := strings.Join(kafkatest.Cluster(t), ",")
	migrated := pgtest.Pool(t, api.Migrations()).Config().ConnString()
	base := map[string]string{"KAFKA_BROKERS": brokers, "SCHEDULER_FUNCTION_NAME": "s", "WORKER_FUNCTION_NAME": "w", "DLQ_FUNCTION_NAME": "d"}
	cases := []struct{ name, db, migrate string }{
		{"default (DB_MIGRATE unset)", migrated, ""},
		{"DB_MIGRATE=true, fresh database", pgtest.NewDatabase(t), "true"},
		{"DB_MIGRATE=true, migrated database", migrated, "true"},
	}
	var fns []Function
	for i, c := range cases {
		env := map[string]string{"DATABASE_URL": c.db}
		for k, v := range base {
			env[k] = v
		}
		if c.migrate != "" {
			env["DB_MIGRATE"] = c.migrate
		}
		fns = append(fns, Function{Name: fmt.Sprintf("api%d", i), Bootstrap: bootstraps["api"], Env: env})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{RIE: rieBin}, fns...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, tc := range cases {
		name := fmt.Sprintf("api%d", i)
		l := invoke.NewLambdaAt(c.URL, map[string]string{"api": c.DeployedName(name)})
		if err := httpCall(ctx, l, "api", "GET", "/health", "", 200); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		t.Logf("api init, %-36s %s", tc.name, ms(waitInit(t, c, name)))
	}
}

// make build and the tests build the bootstraps the same way.
func TestMakefileBuildsWithTheSameFlags(t *testing.T) {
	root, err := Root(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	want := "LAMBDA_BUILD_FLAGS := -tags lambda.norpc -trimpath -ldflags '-s -w'"
	if got := strings.Join(BuildFlags[:4], " ") + " '" + BuildFlags[4] + "'"; !strings.HasSuffix(want, got) {
		t.Fatalf("BuildFlags %q do not spell %q", BuildFlags, want)
	}
	if !strings.Contains(string(mk), want) || !strings.Contains(string(mk), "CGO_ENABLED=0 GOOS=linux GOARCH=$$goarch $(GO) build $(LAMBDA_BUILD_FLAGS)") {
		t.Errorf("the Makefile's build target no longer has %q", want)
	}
}
