package provision

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/jobweaver/jobweaver/shared/adminkey"
	"github.com/jobweaver/jobweaver/shared/apiauth/apiauthtest"
	"github.com/jobweaver/jobweaver/shared/auth"
)

func TestAdminKeyResource(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:jobweaver-dev/api-admin-key-AbCdEf"
	sm := apiauthtest.NewSecrets(t, map[string]string{arn: "RandomPasswordFromSecretsManager"})
	var logs bytes.Buffer
	h := NewHandler(slog.New(slog.NewJSONHandler(&logs, nil)))
	h.store = func(context.Context) (adminkey.Store, error) {
		return secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(sm.URL), Credentials: aws.AnonymousCredentials{}}), nil
	}
	ctx := context.Background()
	cases := []struct {
		name     string
		ev       cfn.Event
		fails    bool
		key      string // "new": a new valid key; "same": the one from the step before
		physical string
	}{
		{"create fills the secret", cfn.Event{RequestType: cfn.RequestCreate, ResourceType: TypeAdminKey,
			ResourceProperties: map[string]any{"ServiceToken": "x", "SecretArn": arn}}, false, "new", physicalAdminKey},
		{"update keeps the key", cfn.Event{RequestType: cfn.RequestUpdate, ResourceType: TypeAdminKey, PhysicalResourceID: physicalAdminKey,
			ResourceProperties: map[string]any{"ServiceToken": "x", "SecretArn": arn}}, false, "same", physicalAdminKey},
		{"delete keeps the key", cfn.Event{RequestType: cfn.RequestDelete, ResourceType: TypeAdminKey, PhysicalResourceID: physicalAdminKey,
			ResourceProperties: map[string]any{"SecretArn": arn}}, false, "same", physicalAdminKey},
		{"no secret named", cfn.Event{RequestType: cfn.RequestCreate, ResourceType: TypeAdminKey,
			ResourceProperties: map[string]any{"ServiceToken": "x"}}, true, "same", ""},
		{"a secret that is not there", cfn.Event{RequestType: cfn.RequestUpdate, ResourceType: TypeAdminKey,
			ResourceProperties: map[string]any{"SecretArn": arn + "-gone"}}, true, "same", ""},
	}
	var last string
	for _, c := range cases {
		resp, err := h.Handle(ctx, c.ev)
		if (err != nil) != c.fails || resp.PhysicalResourceID != c.physical {
			t.Fatalf("%s: %+v, %v", c.name, resp, err)
		}
		if len(resp.Data) != 0 {
			t.Fatalf("%s: data %v: the key must not leave the secret", c.name, resp.Data)
		}
		got, _ := sm.Value(arn)
		switch {
		case !auth.Valid(got):
			t.Fatalf("%s: the secret holds no key", c.name)
		case c.key == "new" && got == last, c.key == "same" && got != last:
			t.Fatalf("%s: key changed %v, want %s", c.name, got != last, c.key)
		}
		last = got
	}
	if sm.Puts() != 1 {
		t.Errorf("%d writes, want 1", sm.Puts())
	}
	if strings.Contains(logs.String(), last) || !strings.Contains(logs.String(), `"generated":true`) {
		t.Errorf("logs hold the key or do not say it was generated:\n%s", logs.String())
	}
}
