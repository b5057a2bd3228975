package main

import (
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// contextWith returns cdk.json's context after edit changed a deep copy.
func contextWith(t *testing.T, edit func(ctx map[string]any)) func(string) any {
	t.Helper()
	b, err := json.Marshal(cdkContext(t))
	if err != nil {
		t.Fatal(err)
	}
	var ctx map[string]any
	if err := json.Unmarshal(b, &ctx); err != nil {
		t.Fatal(err)
	}
	edit(ctx)
	return func(k string) any { return ctx[k] }
}

func stageOf(ctx map[string]any, stage string) map[string]any {
	return ctx["stages"].(map[string]any)[stage].(map[string]any)
}

func TestConfigFromCDKJSON(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		cfg, err := ConfigFromContext(contextWith(t, func(ctx map[string]any) { ctx["stage"] = stage }))
		if err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		if cfg.Architecture != "arm64" || cfg.Region == "" || cfg.AssetDir != "build" {
			t.Errorf("%s: %+v", stage, cfg)
		}
		if !cfg.Database.Proxy {
			need, detail := cfg.ConnectionBudget()
			t.Logf("%s connection budget without the proxy: %d of %d (%s)", stage, need, cfg.Database.MaxConnections, detail)
		}
	}
	cfg, _ := ConfigFromContext(contextWith(t, func(map[string]any) {}))
	if cfg.Stage != "dev" {
		t.Errorf("the default stage is %q, want dev", cfg.Stage)
	}
}

// In-flight work follows what the workers take: invocations (the run-job
// partitions, or the worker's reserved concurrency if lower) times the
// run-job batch size, doubled.
func TestInFlightFollowsTheWorkers(t *testing.T) {
	worker := func(ctx map[string]any) map[string]any {
		return stageOf(ctx, "dev")["functions"].(map[string]any)["worker"].(map[string]any)
	}
	for _, c := range []struct {
		name    string
		edit    func(ctx map[string]any)
		want    int
		refused bool // Validate refuses it (a reservation below the run-job partitions), InFlight still follows
	}{
		{"dev", func(map[string]any) {}, 2 * 6 * 500, false},
		{"reserved concurrency below the partitions", func(ctx map[string]any) { worker(ctx)["reservedConcurrency"] = 3 }, 2 * 3 * 500, true},
		{"smaller batches", func(ctx map[string]any) {
			stageOf(ctx, "dev")["mappings"].(map[string]any)["run-job"].(map[string]any)["batchSize"] = 8
		}, 2 * 6 * 8, false},
	} {
		cfg, err := ConfigFromContext(contextWith(t, c.edit))
		if (err != nil) != c.refused || (c.refused && !strings.Contains(err.Error(), "is below what its triggers can run at once")) {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := cfg.InFlight(); got != c.want {
			t.Errorf("%s: InFlight = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestConfigRejects(t *testing.T) {
	for _, c := range []struct {
		name, want string
		edit       func(ctx map[string]any)
	}{
		{"unknown stage", `stage "qa" is not one of stages [dev prod]`, func(ctx map[string]any) { ctx["stage"] = "qa" }},
		{"misspelt key", `unknown field "memoryMb"`, func(ctx map[string]any) {
			stageOf(ctx, "dev")["functions"].(map[string]any)["api"].(map[string]any)["memoryMb"] = 512
		}},
		{"missing function", "functions.worker is missing", func(ctx map[string]any) {
			delete(stageOf(ctx, "dev")["functions"].(map[string]any), "worker")
		}},
		{"connection budget", "more than maxConnections", func(ctx map[string]any) {
			stageOf(ctx, "dev")["functions"].(map[string]any)["api"].(map[string]any)["reservedConcurrency"] = 500
		}},
		{"unreserved without proxy", "no reserved concurrency", func(ctx map[string]any) {
			stageOf(ctx, "dev")["functions"].(map[string]any)["worker"].(map[string]any)["reservedConcurrency"] = 0
		}},
		{"retries need provisioned pollers", "retryAttempts needs provisioned pollers", func(ctx map[string]any) {
			stageOf(ctx, "dev")["mappings"].(map[string]any)["run-job"].(map[string]any)["retryAttempts"] = 3
		}},
		{"scheduler below its triggers", "functions.scheduler.reservedConcurrency 12 is below what its triggers can run at once, 22 (job-created 6 + job-completed 6 + job-failed 6 + tick 1 + api invocations 1 + worker invocations 1 + dlq invocations 1)", func(ctx map[string]any) {
			stageOf(ctx, "dev")["functions"].(map[string]any)["scheduler"].(map[string]any)["reservedConcurrency"] = 12
		}},
		{"dlq below its triggers", "functions.dlq.reservedConcurrency 3 is below what its triggers can run at once, 7 (job-dead-letter 3 + mapping-failures queue 2 + api invocations 1 + scheduler invocations 1)", func(ctx map[string]any) {
			stageOf(ctx, "prod")["functions"].(map[string]any)["dlq"].(map[string]any)["reservedConcurrency"] = 3
			ctx["stage"] = "prod"
		}},
		{"proxy on an unconfirmed engine", "database.engineVersion 17 with database.proxy: RDS Proxy is confirmed for RDS for PostgreSQL [13 14 15 16] only", func(ctx map[string]any) {
			stageOf(ctx, "prod")["database"].(map[string]any)["engineVersion"] = "17"
			ctx["stage"] = "prod"
		}},
		{"architecture", `"architecture" must be arm64 or x86_64`, func(ctx map[string]any) { ctx["architecture"] = "riscv" }},
		{"brokers per AZ", "kafka.brokers must be a positive multiple", func(ctx map[string]any) {
			stageOf(ctx, "dev")["kafka"].(map[string]any)["brokers"] = 3
		}},
		{"lease shorter than a job", "must exceed the worker's timeout", func(ctx map[string]any) {
			stageOf(ctx, "dev")["functions"].(map[string]any)["scheduler"].(map[string]any)["env"].(map[string]any)["SCHEDULER_LEASE"] = "2m"
		}},
		{"env the stack sets", "functions.api.env.KAFKA_AUTH is set by the stack", func(ctx map[string]any) {
			stageOf(ctx, "dev")["functions"].(map[string]any)["api"].(map[string]any)["env"].(map[string]any)["KAFKA_AUTH"] = "none"
		}},
		{"log retention", "logRetentionDays must be one of", func(ctx map[string]any) { stageOf(ctx, "dev")["logRetentionDays"] = 10 }},
		{"auth kind", "api.auth must be cognito (got \"basic\")", func(ctx map[string]any) { stageOf(ctx, "dev")["api"].(map[string]any)["auth"] = "basic" }},
		{"an open API", "api.auth must be cognito (got \"none\"): in AWS the api always checks its callers", func(ctx map[string]any) {
			api := stageOf(ctx, "dev")["api"].(map[string]any)
			api["auth"], api["clients"] = "none", map[string]any{}
		}},
		{"auth turned off in the env", "functions.api.env.API_AUTH is set by the stack", func(ctx map[string]any) {
			stageOf(ctx, "dev")["functions"].(map[string]any)["api"].(map[string]any)["env"].(map[string]any)["API_AUTH"] = "none"
		}},
		{"an admin key in the context", "functions.api.env.API_ADMIN_KEY is set by the stack", func(ctx map[string]any) {
			stageOf(ctx, "prod")["functions"].(map[string]any)["api"].(map[string]any)["env"].(map[string]any)["API_ADMIN_KEY"] = "jw_x"
			ctx["stage"] = "prod"
		}},
		{"another issuer", "functions.api.env.AUTH_JWT_ISSUER is set by the stack", func(ctx map[string]any) {
			stageOf(ctx, "dev")["functions"].(map[string]any)["api"].(map[string]any)["env"].(map[string]any)["AUTH_JWT_ISSUER"] = "https://example.com"
		}},
		{"auth without clients", "auth cognito needs at least one app client", func(ctx map[string]any) {
			stageOf(ctx, "dev")["api"].(map[string]any)["clients"] = map[string]any{}
		}},
		{"unknown scope", `scope "admin" is not one of [read write]`, func(ctx map[string]any) {
			stageOf(ctx, "dev")["api"].(map[string]any)["clients"] = map[string]any{"ops": []any{"admin"}}
		}},
		{"client name", "api.clients.Ops: a client name is", func(ctx map[string]any) {
			stageOf(ctx, "dev")["api"].(map[string]any)["clients"] = map[string]any{"Ops": []any{"read"}}
		}},
		{"client without scope", "api.clients.ci has no scope", func(ctx map[string]any) {
			stageOf(ctx, "dev")["api"].(map[string]any)["clients"] = map[string]any{"ci": []any{}}
		}},
		{"token validity", "api.tokenValidityMinutes must be 5..1440", func(ctx map[string]any) {
			stageOf(ctx, "dev")["api"].(map[string]any)["tokenValidityMinutes"] = 2
		}},
		{"endless retries become ten", "mappings.run-job.retryAttempts: -1 with the on-failure destination means 10", func(ctx map[string]any) {
			m := stageOf(ctx, "dev")["mappings"].(map[string]any)["run-job"].(map[string]any)
			m["minPollers"], m["maxPollers"] = 1, 2
		}},
		{"worker timeout below the longest step", "functions.worker.timeoutSeconds (90) must be at least 91: a step may run up to 60 s", func(ctx map[string]any) {
			stageOf(ctx, "dev")["functions"].(map[string]any)["worker"].(map[string]any)["timeoutSeconds"] = 90
		}},
		{"inline sleeps need a longer timeout", "functions.worker.timeoutSeconds (120) must be at least 331", func(ctx map[string]any) {
			stageOf(ctx, "dev")["functions"].(map[string]any)["worker"].(map[string]any)["env"].(map[string]any)["WORKER_PARK_THRESHOLD"] = "-1s"
		}},
		{"a bad worker setting", "functions.worker.env: config: WORKER_MAX_IDLE_YIELDS", func(ctx map[string]any) {
			stageOf(ctx, "dev")["functions"].(map[string]any)["worker"].(map[string]any)["env"].(map[string]any)["WORKER_MAX_IDLE_YIELDS"] = "0"
		}},
		{"checkpoints kept shorter than a dead letter may be retried", "WORKER_CHECKPOINT_RETENTION (1440h0m0s) must be at least 1608h0m0s", func(ctx map[string]any) {
			stageOf(ctx, "dev")["functions"].(map[string]any)["worker"].(map[string]any)["env"].(map[string]any)["WORKER_CHECKPOINT_RETENTION"] = "60d"
		}},
		{"Kafka consumer timeout", "functions.worker.timeoutSeconds must be at most 840", func(ctx map[string]any) {
			stageOf(ctx, "dev")["functions"].(map[string]any)["worker"].(map[string]any)["timeoutSeconds"] = 900
		}},
		{"AZ count", "network.availabilityZones lists 1 AZs, but maxAzs is 2", func(ctx map[string]any) {
			stageOf(ctx, "dev")["network"].(map[string]any)["availabilityZones"] = []any{"us-east-1a"}
		}},
		{"AZ of another region", `"eu-west-1a" is not an AZ of region us-east-1`, func(ctx map[string]any) {
			stageOf(ctx, "dev")["network"].(map[string]any)["availabilityZones"] = []any{"us-east-1a", "eu-west-1a"}
		}},
	} {
		_, err := ConfigFromContext(contextWith(t, c.edit))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.want)
		}
	}
}

// minimalELF is the smallest ELF file debug/elf opens: a 64-bit
// little-endian executable header for machine, with no sections.
func minimalELF(machine elf.Machine) []byte {
	h := make([]byte, 64)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	binary.LittleEndian.PutUint16(h[16:], uint16(elf.ET_EXEC))
	binary.LittleEndian.PutUint16(h[18:], uint16(machine))
	binary.LittleEndian.PutUint32(h[20:], uint32(elf.EV_CURRENT))
	binary.LittleEndian.PutUint16(h[52:], 64) // header size
	return h
}

func TestCheckAssets(t *testing.T) {
	arm, x86 := minimalELF(elf.EM_AARCH64), minimalELF(elf.EM_X86_64)
	native, other, elfBin := "arm64", "x86_64", arm
	assets := func(t *testing.T, write func(fn string) []byte) string {
		dir := t.TempDir()
		for _, fn := range AllFunctions {
			if b := write(fn); b != nil {
				if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, fn, "bootstrap"), b, 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}
		return dir
	}
	for _, c := range []struct {
		name, arch, want string
		write            func(fn string) []byte
	}{
		{"binaries for the stack's architecture", native, "", func(string) []byte { return elfBin }},
		{"x86_64 binaries for x86_64", other, "", func(string) []byte { return x86 }},
		{"scripts", other, "", func(string) []byte { return []byte("#!/bin/sh\n") }},
		{"binaries for the other architecture", other, "worker/bootstrap is built for", func(fn string) []byte {
			if fn == "worker" {
				return elfBin
			}
			return []byte("#!/bin/sh\n")
		}},
		{"missing", native, "dlq/bootstrap is missing or not executable: run make build", func(fn string) []byte {
			if fn == "dlq" {
				return nil
			}
			return elfBin
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckAssets(Config{Architecture: c.arch, AssetDir: assets(t, c.write)})
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("CheckAssets = %v, want %q", err, c.want)
			}
		})
	}
	// With dashboardHosting, the dashboard's build must be there too.
	scripts := assets(t, func(string) []byte { return []byte("#!/bin/sh\n") })
	for _, c := range []struct {
		name, dir, want string
		hosting         bool
	}{
		{"a dashboard build", "testdata/dashboard-dist", "", true},
		{"no dashboard build", t.TempDir(), "has no index.html: the stack uploads the web dashboard's build; run make build", true},
		{"no hosting, no build needed", t.TempDir(), "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{Architecture: other, AssetDir: scripts, DashboardDir: c.dir}
			cfg.DashboardHosting = c.hosting
			err := CheckAssets(cfg)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("CheckAssets = %v, want %q", err, c.want)
			}
		})
	}
}
