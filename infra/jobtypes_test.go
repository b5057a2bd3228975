package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// WEBHOOK jobs' signing keys: a generated secret holding {"default": key},
// named in the worker's WEBHOOK_SIGNING_KEYS_SECRET_ARN, readable by the
// worker alone.
func TestWebhookSigningKeys(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		t.Run(stage, func(t *testing.T) {
			s := synth(t, stage)
			var secretID string
			for id, r := range s.resources("AWS::SecretsManager::Secret") {
				if nameString(props(r)["Name"]) != resourceName(s.cfg, "webhook-signing-keys")+"-<stack>" {
					continue
				}
				secretID = id
				gen, _ := json.Marshal(props(r)["GenerateSecretString"])
				for _, want := range []string{`"SecretStringTemplate":"{}"`, `"GenerateStringKey":"default"`, `"PasswordLength":48`, `"ExcludePunctuation":true`} {
					if !strings.Contains(string(gen), want) {
						t.Errorf("signing keys secret generates %s; want %s", gen, want)
					}
				}
				wantPolicy := "Delete"
				if s.cfg.RetainData {
					wantPolicy = "Retain"
				}
				if r["DeletionPolicy"] != wantPolicy {
					t.Errorf("DeletionPolicy %v, want %s", r["DeletionPolicy"], wantPolicy)
				}
			}
			if secretID == "" {
				t.Fatal("no webhook signing keys secret")
			}
			workerID := s.functionID(t, resourceName(s.cfg, "worker"))
			env := props(s.resources("AWS::Lambda::Function")[workerID])["Environment"].(map[string]any)["Variables"].(map[string]any)
			if !refersTo(env["WEBHOOK_SIGNING_KEYS_SECRET_ARN"], secretID) {
				t.Errorf("worker WEBHOOK_SIGNING_KEYS_SECRET_ARN = %v", env["WEBHOOK_SIGNING_KEYS_SECRET_ARN"])
			}
			if _, plain := env["WEBHOOK_SIGNING_KEYS"]; plain {
				t.Error("the worker has WEBHOOK_SIGNING_KEYS in its environment: keys belong in the secret")
			}

			statements := map[string][]map[string]any{}
			for id, r := range s.resources("AWS::IAM::Policy") {
				for _, st := range props(r)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
					statements[id] = append(statements[id], st.(map[string]any))
				}
			}
			for _, fn := range AllFunctions {
				var actions []string
				for _, st := range policyStatementsOfRole(s, roleOf(t, s, resourceName(s.cfg, fn)), statements) {
					if b, _ := json.Marshal(st["Resource"]); bytes.Contains(b, []byte(`"`+secretID+`"`)) {
						actions = append(actions, list(st["Action"])...)
					}
				}
				if read := slices.Contains(actions, "secretsmanager:GetSecretValue"); read != (fn == "worker") {
					t.Errorf("%s may %v on the signing keys", fn, actions)
				}
				if slices.Contains(actions, "secretsmanager:PutSecretValue") {
					t.Errorf("%s may write the signing keys", fn)
				}
			}
		})
	}
}
