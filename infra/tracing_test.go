package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// Each platform function exports its spans to the ADOT collector beside
// it (both layers, the OTLP endpoint and the collector's configuration),
// and its role may put spans to X-Ray's OTLP endpoint.
func TestTracingToXRay(t *testing.T) {
	s := synth(t, "dev")
	statements := map[string][]map[string]any{}
	for id, r := range s.resources("AWS::IAM::Policy") {
		doc := props(r)["PolicyDocument"].(map[string]any)
		for _, st := range doc["Statement"].([]any) {
			statements[id] = append(statements[id], st.(map[string]any))
		}
	}
	for _, svc := range Services {
		fn := props(s.resources("AWS::Lambda::Function")[s.functionID(t, resourceName(s.cfg, svc))])
		vars := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
		if vars["OTEL_EXPORTER_OTLP_ENDPOINT"] != otlpEndpoint || vars["OPENTELEMETRY_COLLECTOR_CONFIG_URI"] != collectorConfigURI {
			t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT %v, OPENTELEMETRY_COLLECTOR_CONFIG_URI %v", svc, vars["OTEL_EXPORTER_OTLP_ENDPOINT"], vars["OPENTELEMETRY_COLLECTOR_CONFIG_URI"])
		}
		layers, _ := json.Marshal(fn["Layers"])
		if !strings.Contains(string(layers), ":901920570463:layer:aws-otel-collector-arm64-") || !strings.Contains(string(layers), "CollectorConfig") {
			t.Errorf("%s: layers %s; want the ADOT collector (arm64) and CollectorConfig", svc, layers)
		}
		put := false
		for _, st := range policyStatementsOfRole(s, roleOf(t, s, resourceName(s.cfg, svc)), statements) {
			acts := strings.Join(list(st["Action"]), " ")
			put = put || strings.Contains(acts, "xray:PutSpans")
		}
		if !put {
			t.Errorf("%s: its role may not call xray:PutSpans", svc)
		}
	}
}
