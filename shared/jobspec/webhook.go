package jobspec

import (
	"bytes"
	"encoding/json"

	"github.com/jobweaver/jobweaver/shared/step"
)

// Webhook is WEBHOOK: payload {url, method?, headers?, body?, timeoutMs?,
// expectStatus?, signingKey?}, one delivery (step.ParseWebhook) per
// attempt. Its output (the response's status, headers and size) is kept.
var Webhook = Type{Name: "WEBHOOK", Schema: "WebhookPayload", KeepsOutputs: true, Parse: parseWebhook}

func parseWebhook(raw json.RawMessage) (Plan, []string) {
	if len(raw) == 0 || string(raw) == "null" {
		return Plan{}, []string{`payload: is required, as {"url": "https://...", ...}`}
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] != '{' {
		return Plan{}, []string{"payload: must be an object {\"url\": ...}"}
	}
	s, err := step.ParseWebhook(raw)
	if err != nil {
		return Plan{}, []string{fieldProblem("payload.", err)}
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, raw)
	p := json.RawMessage(buf.Bytes())
	return Plan{Steps: []step.Step{s}, Parts: []json.RawMessage{p}, Payload: p}, nil
}
