package main

import (
	"encoding/json"
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
		{"architecture", `"architecture" must be arm64 or x86_64`, func(ctx map[string]any) { ctx["architecture"] = "riscv" }},
		{"brokers per AZ", "kafka.brokers must be a positive multiple", func(ctx map[string]any) {
			stageOf(ctx, "dev")["kafka"].(map[string]any)["brokers"] = 3
		}},
		{"lease shorter than a job", "must exceed the worker's timeout", func(ctx map[string]any) {
			delete(stageOf(ctx, "dev")["functions"].(map[string]any)["scheduler"].(map[string]any)["env"].(map[string]any), "SCHEDULER_LEASE")
		}},
		{"env the stack sets", "functions.api.env.KAFKA_AUTH is set by the stack", func(ctx map[string]any) {
			stageOf(ctx, "dev")["functions"].(map[string]any)["api"].(map[string]any)["env"].(map[string]any)["KAFKA_AUTH"] = "none"
		}},
		{"log retention", "logRetentionDays must be one of", func(ctx map[string]any) { stageOf(ctx, "dev")["logRetentionDays"] = 10 }},
	} {
		_, err := ConfigFromContext(contextWith(t, c.edit))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.want)
		}
	}
}
