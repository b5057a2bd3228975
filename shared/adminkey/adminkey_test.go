package adminkey

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/jobweaver/jobweaver/shared/apiauth/apiauthtest"
	"github.com/jobweaver/jobweaver/shared/auth"
)

const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:jobweaver-dev/api-admin-key-AbCdEf"

// client is a Secrets Manager client for the fake at url.
func client(url string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: aws.AnonymousCredentials{},
	})
}

func TestEnsureAndRead(t *testing.T) {
	valid, err := auth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	// One character changed: the checksum no longer matches.
	broken := valid[:10] + map[bool]string{true: "A", false: "B"}[valid[10] != 'A'] + valid[11:]
	cases := []struct {
		name    string
		initial string
		made    bool // Ensure writes a new key
	}{
		{"Secrets Manager's random password", `x9!Q"rT#bN2$kL7&mP0(zV5)wC8`, true},
		{"empty", "", true},
		{"a key with a bad checksum", broken, true},
		{"a valid key", valid, false},
		{"a valid key with a newline", valid + "\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			sm := apiauthtest.NewSecrets(t, map[string]string{arn: c.initial})
			cl := client(sm.URL)
			if _, err := Read(ctx, cl, arn); c.made != errors.Is(err, ErrNoKey) {
				t.Fatalf("Read before Ensure: %v", err)
			}
			made, err := Ensure(ctx, cl, arn)
			if err != nil || made != c.made {
				t.Fatalf("Ensure = %v, %v; want made %v", made, err, c.made)
			}
			got, _ := sm.Value(arn)
			if !auth.Valid(strings.TrimSpace(got)) {
				t.Fatalf("the secret holds %q after Ensure, not a key", got)
			}
			if !c.made && got != c.initial {
				t.Fatalf("Ensure replaced a valid key")
			}
			key, err := Read(ctx, cl, arn)
			if err != nil || key != strings.TrimSpace(got) {
				t.Fatalf("Read = %q, %v; want the secret's key", key, err)
			}
			// A second deploy keeps it.
			if made, err := Ensure(ctx, cl, arn); made || err != nil {
				t.Fatalf("second Ensure = %v, %v; want the key kept", made, err)
			}
			if want := map[bool]int{true: 1, false: 0}[c.made]; sm.Puts() != want {
				t.Fatalf("%d writes, want %d", sm.Puts(), want)
			}
		})
	}
}

func TestErrorsHoldNoValue(t *testing.T) {
	ctx := context.Background()
	const value = "not-a-key-but-still-secret"
	sm := apiauthtest.NewSecrets(t, map[string]string{arn: value})
	_, err := Read(ctx, client(sm.URL), arn)
	if err == nil || strings.Contains(err.Error(), value) {
		t.Fatalf("Read error %v: want one without the value", err)
	}
	if _, err := Read(ctx, client(sm.URL), arn+"-other"); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("Read of a missing secret: %v", err)
	}
	if _, err := Ensure(ctx, client(sm.URL), arn+"-other"); err == nil {
		t.Fatal("Ensure of a missing secret succeeded")
	}
}
