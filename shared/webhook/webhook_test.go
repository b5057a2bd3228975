package webhook_test

import (
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/webhook"
)

func TestSign(t *testing.T) {
	// RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
	got := webhook.Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	secret, body := []byte("s3cret-s3cret-s3cret"), []byte(`{"entries":[],"sentAt":"2026-12-04T21:00:00Z"}`)
	good := webhook.Sign(secret, body)
	cases := []struct {
		name, header string
		body         []byte
		secret       []byte
		want         bool
	}{
		{"good", good, body, secret, true},
		{"upper-case hex", "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), body, secret, true},
		{"surrounding space", " " + good + " ", body, secret, true},
		{"other body", good, append([]byte(" "), body...), secret, false},
		{"other secret", good, body, []byte("another"), false},
		{"no prefix", strings.TrimPrefix(good, "sha256="), body, secret, false},
		{"sha1 prefix", "sha1=" + strings.TrimPrefix(good, "sha256="), body, secret, false},
		{"short", good[:len(good)-2], body, secret, false},
		{"not hex", "sha256=" + strings.Repeat("zz", 32), body, secret, false},
		{"empty", "", body, secret, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := webhook.Verify(c.secret, c.body, c.header); got != c.want {
				t.Fatalf("Verify(%q) = %v, want %v", c.header, got, c.want)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte("k"), []byte("body"), "sha256=00")
	f.Add([]byte("k"), []byte(""), webhook.Sign([]byte("k"), nil))
	f.Fuzz(func(t *testing.T, secret, body []byte, header string) {
		if webhook.Verify(secret, body, header) && header != "" {
			// Whatever verifies must be what Sign makes, up to case and space.
			if !strings.EqualFold(strings.TrimSpace(header), webhook.Sign(secret, body)) {
				t.Fatalf("Verify accepted %q, Sign makes %q", header, webhook.Sign(secret, body))
			}
		}
		if !webhook.Verify(secret, body, webhook.Sign(secret, body)) {
			t.Fatal("Verify refused Sign's own signature")
		}
	})
}
