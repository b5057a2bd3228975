package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// The dlq function gets the alarm topic and the webhook secret, may
// publish to that topic and read that secret, and no other function may
// publish to it.
func TestDLQNotifications(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		t.Run(stage, func(t *testing.T) {
			s := synth(t, stage)
			topics := s.resources("AWS::SNS::Topic")
			var topicID string
			for id, r := range topics {
				if props(r)["TopicName"] == resourceName(s.cfg, "alarms") {
					topicID = id
				}
			}
			var secretID string
			for id, r := range s.resources("AWS::SecretsManager::Secret") {
				if nameString(props(r)["Name"]) == resourceName(s.cfg, "dlq-webhook")+"-<stack>" {
					secretID = id
					gen, _ := json.Marshal(props(r)["GenerateSecretString"])
					if !strings.Contains(string(gen), `"PasswordLength":48`) || !strings.Contains(string(gen), `"ExcludePunctuation":true`) {
						t.Errorf("webhook secret generates %s", gen)
					}
					wantPolicy := "Delete"
					if s.cfg.RetainData {
						wantPolicy = "Retain"
					}
					if r["DeletionPolicy"] != wantPolicy {
						t.Errorf("webhook secret DeletionPolicy %v, want %s", r["DeletionPolicy"], wantPolicy)
					}
				}
			}
			if topicID == "" || secretID == "" {
				t.Fatalf("alarm topic %q, webhook secret %q", topicID, secretID)
			}

			fnID := s.functionID(t, resourceName(s.cfg, "dlq"))
			env := props(s.resources("AWS::Lambda::Function")[fnID])["Environment"].(map[string]any)["Variables"].(map[string]any)
			if !refersTo(env["DLQ_SNS_TOPIC_ARN"], topicID) || !refersTo(env["DLQ_WEBHOOK_SECRET_ARN"], secretID) {
				t.Errorf("dlq env DLQ_SNS_TOPIC_ARN=%v DLQ_WEBHOOK_SECRET_ARN=%v", env["DLQ_SNS_TOPIC_ARN"], env["DLQ_WEBHOOK_SECRET_ARN"])
			}
			check(t, "dlq env", func() {
				s.template.HasResourceProperties(jsii.String("AWS::Lambda::Function"), &map[string]any{
					"FunctionName": resourceName(s.cfg, "dlq"),
					"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
						"DLQ_SNS_TOPIC_ARN":      map[string]any{"Ref": topicID},
						"DLQ_WEBHOOK_SECRET_ARN": map[string]any{"Ref": secretID},
					})},
				})
			})

			statements := map[string][]map[string]any{}
			for id, r := range s.resources("AWS::IAM::Policy") {
				for _, st := range props(r)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
					statements[id] = append(statements[id], st.(map[string]any))
				}
			}
			for _, svc := range Services {
				publish := false
				for _, st := range policyStatementsOfRole(s, roleOf(t, s, resourceName(s.cfg, svc)), statements) {
					if strings.Contains(strings.Join(list(st["Action"]), " "), "sns:Publish") {
						publish = true
						if !refersTo(st["Resource"], topicID) || len(list(st["Resource"])) != 1 {
							t.Errorf("%s may publish to %v", svc, st["Resource"])
						}
					}
				}
				if publish != (svc == "dlq") {
					t.Errorf("%s may publish to SNS: %v", svc, publish)
				}
			}
		})
	}
}
