package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/jobweaver/jobweaver/shared/flow"
	"github.com/jobweaver/jobweaver/shared/lag"
)

// TestSystemLag: the api reads the mappings' OffsetLag from CloudWatch
// (GET /api/system): it has LAG_SOURCE=cloudwatch, the stage's consumer
// group prefix, every Kafka mapping's UUID by topic in LAG_MAPPINGS (the
// mappings' own Refs), and may call cloudwatch:GetMetricData; no other
// function may.
func TestSystemLag(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		t.Run(stage, func(t *testing.T) {
			s := synth(t, stage)
			prefix := resourceName(s.cfg, "")
			check(t, "api environment", func() {
				s.template.HasResourceProperties(jsii.String("AWS::Lambda::Function"), &map[string]any{
					"FunctionName": resourceName(s.cfg, "api"),
					"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
						"LAG_SOURCE":         lag.SourceCloudWatch,
						"KAFKA_GROUP_PREFIX": prefix,
						"LAG_MAPPINGS":       assertions.Match_AnyValue(),
					})},
				})
			})
			api := props(s.resources("AWS::Lambda::Function")[s.functionID(t, resourceName(s.cfg, "api"))])
			mappings := api["Environment"].(map[string]any)["Variables"].(map[string]any)["LAG_MAPPINGS"]
			b, _ := json.Marshal(mappings)
			// Each topic's pair names the mapping that reads it, whose
			// consumer group is the one the api derives from the prefix.
			for _, r := range flow.Routes {
				found := false
				for id, esm := range s.resources("AWS::Lambda::EventSourceMapping") {
					p := props(esm)
					topics, _ := p["Topics"].([]any)
					if len(topics) != 1 || topics[0] != r.Topic {
						continue
					}
					found = true
					if !refersTo(mappings, id) {
						t.Errorf("LAG_MAPPINGS %s does not name the %s mapping %s", b, r.Topic, id)
					}
					if cg, _ := json.Marshal(p["AmazonManagedKafkaEventSourceConfig"]); !strings.Contains(string(cg), `"ConsumerGroupId":"`+r.Group(prefix)+`"`) {
						t.Errorf("the %s mapping's group %s is not %s", r.Topic, cg, r.Group(prefix))
					}
				}
				if !found || !strings.Contains(string(b), `"`+r.Topic+`="`) {
					t.Errorf("LAG_MAPPINGS %s: no pair for %s (mapping found: %v)", b, r.Topic, found)
				}
			}

			statements := map[string][]map[string]any{}
			for id, r := range s.resources("AWS::IAM::Policy") {
				for _, st := range props(r)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
					statements[id] = append(statements[id], st.(map[string]any))
				}
			}
			for _, fn := range Services {
				may := false
				for _, st := range policyStatementsOfRole(s, roleOf(t, s, resourceName(s.cfg, fn)), statements) {
					for _, a := range list(st["Action"]) {
						if a == "cloudwatch:GetMetricData" {
							may = true
							if r := list(st["Resource"]); len(r) != 1 || r[0] != "*" {
								t.Errorf("%s: GetMetricData on %v, want * (it has no resource-level permissions)", fn, r)
							}
						}
					}
				}
				if may != (fn == "api") {
					t.Errorf("%s may call cloudwatch:GetMetricData: %v", fn, may)
				}
			}
		})
	}
}
