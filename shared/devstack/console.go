package devstack

import "github.com/jobweaver/jobweaver/shared/api"

// consoleSignIn says in the banner how to sign in to the console, or ""
// when there is nothing to sign in to (API_AUTH=none). newKey is whether
// the banner shows an admin key made at this start.
func consoleSignIn(c api.Config, newKey bool) string {
	var key string
	switch {
	case c.Auth == api.AuthNone:
		return ""
	case newKey:
		key = "the admin key above"
	case c.AdminKey != "":
		key = "$API_ADMIN_KEY"
	case c.KeysOn():
		key = "an API key (the admin key shown at the first start, or one POST /api/keys made)"
	}
	switch {
	case c.JWTOn() && key != "":
		key += " or a JWT from " + c.JWTIssuer
	case c.JWTOn():
		key = "a JWT from " + c.JWTIssuer
	}
	return "sign in: open the dashboard and paste " + key + " (kept in that browser tab until Sign out; docs/security.md, \"The console\")"
}
