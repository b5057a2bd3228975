package devstack

import (
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/api"
)

func TestConsoleSignIn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    api.Config
		newKey bool
		want   []string // in the line; none: no line
	}{
		{"auth off: nothing to sign in to", api.Config{Auth: api.AuthNone}, false, nil},
		{"a key made now", api.Config{Auth: api.AuthKeys}, true, []string{"sign in", "paste the admin key above"}},
		{"API_ADMIN_KEY", api.Config{Auth: api.AuthKeys, AdminKey: "jw_x"}, false, []string{"paste $API_ADMIN_KEY"}},
		{"a key made earlier", api.Config{Auth: api.AuthKeys}, false, []string{"the admin key shown at the first start"}},
		{"JWTs only", api.Config{Auth: api.AuthJWT, JWTIssuer: "https://issuer.test"}, false, []string{"paste a JWT from https://issuer.test"}},
		{"both", api.Config{Auth: api.AuthKeysJWT, JWTIssuer: "https://issuer.test"}, true, []string{"the admin key above or a JWT from https://issuer.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := consoleSignIn(tc.cfg, tc.newKey)
			if tc.want == nil {
				if got != "" {
					t.Fatalf("consoleSignIn = %q, want none", got)
				}
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("consoleSignIn = %q, want it to say %q", got, w)
				}
			}
		})
	}
}
