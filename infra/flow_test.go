package main

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/flow"
)

// kafkaResource matches a topic or group ARN of the cluster as the
// template writes it (an Fn::Join whose last part is "/<name>").
var kafkaResource = regexp.MustCompile(`:(topic|group)/[^"]*".*"/([a-z0-9-]+)"\]\]\}$`)

// kafkaGrants lists the topics (or groups) a role's statements allow one
// of actions on, sorted.
func kafkaGrants(statements []map[string]any, kind string, actions ...string) []string {
	var out []string
	for _, st := range statements {
		acts := list(st["Action"])
		if !slices.ContainsFunc(actions, func(a string) bool { return slices.Contains(acts, a) }) {
			continue
		}
		for _, r := range list(st["Resource"]) {
			if m := kafkaResource.FindStringSubmatch(r); m != nil && m[1] == kind && !slices.Contains(out, m[2]) {
				out = append(out, m[2])
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestTemplateFollowsTheFlowTable reads the synthesized template back and
// compares it with shared/flow's table: each Kafka mapping's function,
// consumer group and (in dev, which uses the table's defaults) batching;
// and each function's produce, read and group grants. A route changed in
// the table but not in what infra builds (or the reverse) fails here.
func TestTemplateFollowsTheFlowTable(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		t.Run(stage, func(t *testing.T) {
			s := synth(t, stage)
			prefix := resourceName(s.cfg, "")

			mapped := map[string]bool{}
			for id, r := range s.resources("AWS::Lambda::EventSourceMapping") {
				p := props(r)
				topics, _ := p["Topics"].([]any)
				if len(topics) == 0 {
					continue // the failure queue's SQS mapping
				}
				topic, _ := topics[0].(string)
				route, ok := flow.ByTopic(topic)
				if !ok || len(topics) != 1 || mapped[topic] {
					t.Errorf("mapping %s reads %v: not one topic of the flow table, once", id, topics)
					continue
				}
				mapped[topic] = true
				if !refersTo(p["FunctionName"], s.functionID(t, resourceName(s.cfg, route.Consumer))) {
					t.Errorf("%s → %v; the flow table says %s", topic, p["FunctionName"], route.Consumer)
				}
				if cg, _ := json.Marshal(p["AmazonManagedKafkaEventSourceConfig"]); !strings.Contains(string(cg), `"ConsumerGroupId":"`+route.Group(prefix)+`"`) {
					t.Errorf("%s: consumer group %s; the flow table says %s", topic, cg, route.Group(prefix))
				}
				if stage == "dev" && (p["BatchSize"] != float64(route.BatchSize) || p["MaximumBatchingWindowInSeconds"] != float64(route.BatchWindowSeconds)) {
					t.Errorf("%s: batch %v, window %v; the flow table's defaults are %d and %d (cdk.json's dev stage keeps them)",
						topic, p["BatchSize"], p["MaximumBatchingWindowInSeconds"], route.BatchSize, route.BatchWindowSeconds)
				}
			}
			if len(mapped) != len(flow.Routes) {
				t.Errorf("%d Kafka mappings; the flow table has %d routes", len(mapped), len(flow.Routes))
			}

			statements := map[string][]map[string]any{}
			for id, r := range s.resources("AWS::IAM::Policy") {
				doc := props(r)["PolicyDocument"].(map[string]any)
				for _, st := range doc["Statement"].([]any) {
					statements[id] = append(statements[id], st.(map[string]any))
				}
			}
			writers := map[string]bool{}
			for _, svc := range Services {
				role := roleOf(t, s, resourceName(s.cfg, svc))
				writers[role] = true
				sts := policyStatementsOfRole(s, role, statements)
				if got, want := kafkaGrants(sts, "topic", "kafka-cluster:WriteData"), slices.Sorted(slices.Values(flow.Produces(svc))); !slices.Equal(got, want) {
					t.Errorf("%s may write %v; the flow table says %v", svc, got, want)
				}
				reads := flow.Consumes(svc)
				if svc == flow.Redriver {
					reads = flow.Topics()
				}
				if got, want := kafkaGrants(sts, "topic", "kafka-cluster:ReadData"), slices.Sorted(slices.Values(reads)); !slices.Equal(got, want) {
					t.Errorf("%s may read %v; the flow table says %v", svc, got, want)
				}
				var groups []string
				for _, topic := range flow.Consumes(svc) {
					r, _ := flow.ByTopic(topic)
					groups = append(groups, r.Group(prefix))
				}
				if got, want := kafkaGrants(sts, "group", "kafka-cluster:AlterGroup"), slices.Sorted(slices.Values(groups)); !slices.Equal(got, want) {
					t.Errorf("%s may use consumer groups %v; the flow table says %v", svc, got, want)
				}
			}
			// Nothing but the services writes the lifecycle topics.
			for id, r := range s.resources("AWS::IAM::Policy") {
				roles := strings.Join(list(props(r)["Roles"]), " ")
				service := false
				for w := range writers {
					service = service || strings.Contains(roles, `"`+w+`"`)
				}
				if got := kafkaGrants(statements[id], "topic", "kafka-cluster:WriteData"); !service && len(got) > 0 {
					t.Errorf("policy %s (roles %s) writes %v, and is no service's", id, roles, got)
				}
			}
		})
	}
}
