package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/config"
)

// keysBundle is a service with API_AUTH=keys and a seeded admin key.
func keysBundle(t *testing.T) (*bundle, string) {
	t.Helper()
	admin, err := auth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Auth, cfg.AdminKey = AuthKeys, admin
	return setup(t, cfg), admin
}

func bearer(key string) []string { return []string{"Authorization", "Bearer " + key} }

// createKey creates a key with the admin key and returns the answer.
func (b *bundle) createKey(t *testing.T, admin, body string) CreatedKey {
	t.Helper()
	w := b.do(http.MethodPost, "/api/keys", body, append(bearer(admin), "Content-Type", "application/json")...)
	if w.Code != http.StatusCreated {
		t.Fatalf("POST /api/keys %s = %d %s", body, w.Code, w.Body)
	}
	var c CreatedKey
	decodeStrict(t, w, &c)
	return c
}

func TestKeysCreateListRevoke(t *testing.T) {
	b, admin := keysBundle(t)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	c := b.createKey(t, admin, `{"name":"ci reader","role":"viewer","expiresAt":"`+exp.Format(time.RFC3339)+`"}`)
	if !auth.Valid(c.Key) || c.Prefix != auth.DisplayPrefix(c.Key) || c.Role != "viewer" || c.Name != "ci reader" ||
		c.ExpiresAt == nil || !c.ExpiresAt.Equal(exp) {
		t.Fatalf("created %+v", c)
	}
	if n := b.count(t, `SELECT count(*) FROM api_keys WHERE hash = $1 AND prefix = $2`, auth.Hash(c.Key), c.Prefix); n != 1 {
		t.Fatalf("%d rows with the key's hash", n)
	}
	if n := b.count(t, `SELECT count(*) FROM api_keys WHERE position($1::bytea in hash) > 0 OR name LIKE '%jw_%'`, []byte(c.Key)); n != 0 {
		t.Fatal("the key itself is stored")
	}

	// The listing shows both keys, never a key or a hash.
	w := b.do(http.MethodGet, "/api/keys", "", bearer(admin)...)
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), c.Key) || strings.Contains(w.Body.String(), "hash") {
		t.Fatalf("GET /api/keys = %d %s", w.Code, w.Body)
	}
	var list KeyList
	decodeStrict(t, w, &list)
	if len(list.Content) != 2 || list.Content[0].ID != c.ID || list.Content[1].Role != "admin" ||
		list.Content[1].CreatedBy != adminKeyName || list.Content[0].CreatedBy != list.Content[1].ID {
		t.Fatalf("keys %+v", list.Content)
	}

	// The viewer reads but may not manage keys; the 403 names the role.
	if w := b.do(http.MethodGet, "/api/keys", "", bearer(c.Key)...); w.Code != http.StatusForbidden {
		t.Fatalf("viewer GET /api/keys = %d", w.Code)
	} else if e := wantError(t, w, http.StatusForbidden, "API.FORBIDDEN"); !strings.Contains(e.Message, "admin") {
		t.Errorf("403 message %q does not name the role", e.Message)
	}

	// Revoked here: refused at once (this process forgets its cache).
	w = b.do(http.MethodDelete, "/api/keys/"+c.ID, "", bearer(admin)...)
	var v KeyView
	decodeStrict(t, w, &v)
	if w.Code != http.StatusOK || v.RevokedAt == nil || v.ID != c.ID {
		t.Fatalf("DELETE = %d %+v", w.Code, v)
	}
	w = b.do(http.MethodGet, "/api/jobs/"+c.ID, "", bearer(c.Key)...)
	if e := wantError(t, w, http.StatusUnauthorized, "API.UNAUTHENTICATED"); !strings.Contains(e.Message, "revoked") {
		t.Errorf("message %q", e.Message)
	}
	if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="jobweaver"`) {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	// Again: the same answer; an unknown ID: 404.
	if w := b.do(http.MethodDelete, "/api/keys/"+c.ID, "", bearer(admin)...); w.Code != http.StatusOK {
		t.Errorf("second DELETE = %d", w.Code)
	}
	wantError(t, b.do(http.MethodDelete, "/api/keys/00000000-0000-7000-8000-000000000000", "", bearer(admin)...), http.StatusNotFound, "API.KEY_NOT_FOUND")
	wantError(t, b.do(http.MethodDelete, "/api/keys/nope", "", bearer(admin)...), http.StatusBadRequest, "API.INVALID_REQUEST")

	// The audit names who created and revoked what.
	if n := b.count(t, `SELECT count(*) FROM audit WHERE action = 'key.create' AND target = $1 AND caller = $2`, c.ID, list.Content[1].ID); n != 1 {
		t.Errorf("%d key.create audit rows", n)
	}
	if n := b.count(t, `SELECT count(*) FROM audit WHERE action = 'key.revoke' AND target = $1`, c.ID); n != 2 {
		t.Errorf("%d key.revoke audit rows", n)
	}
}

func TestCreateKeyRefusesBadRequests(t *testing.T) {
	b, admin := keysBundle(t)
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for _, tc := range []struct{ name, body, detail string }{
		{"no name", `{"role":"viewer"}`, "name: "},
		{"blank name", `{"name":"  ","role":"viewer"}`, "name: "},
		{"long name", `{"name":"` + strings.Repeat("x", MaxKeyNameLen+1) + `","role":"viewer"}`, "name: "},
		{"no role", `{"name":"a"}`, "role: "},
		{"unknown role", `{"name":"a","role":"root"}`, "role: "},
		{"past expiry", `{"name":"a","role":"viewer","expiresAt":"` + past + `"}`, "expiresAt: "},
		{"unknown field", `{"name":"a","role":"viewer","scopes":["x"]}`, ""},
		{"not an object", `[]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := b.do(http.MethodPost, "/api/keys", tc.body, append(bearer(admin), "Content-Type", "application/json")...)
			e := wantError(t, w, http.StatusBadRequest, "API.INVALID_REQUEST")
			if tc.detail != "" && (len(e.Details) != 1 || !strings.HasPrefix(e.Details[0], tc.detail)) {
				t.Errorf("details %q, want one starting %q", e.Details, tc.detail)
			}
		})
	}
	if n := b.count(t, `SELECT count(*) FROM api_keys`); n != 1 {
		t.Errorf("%d keys stored, want only the admin's", n)
	}
}

// Another process revokes a key: this one still has it cached, and
// refuses it once its cache entry is older than the TTL (a clock the test
// moves, so no timing is asserted).
func TestRevocationReachesOtherProcessesWithinTheCacheTTL(t *testing.T) {
	b, admin := keysBundle(t)
	c := b.createKey(t, admin, `{"name":"r","role":"viewer"}`)
	now := time.Now()
	b.svc.keys.now = func() time.Time { return now }
	get := func() int { return b.do(http.MethodGet, "/api/keys", "", bearer(c.Key)...).Code }
	if got := get(); got != http.StatusForbidden { // known, a viewer
		t.Fatalf("before = %d", got)
	}
	if _, err := b.pool.Exec(context.Background(), `UPDATE api_keys SET revoked_at = now() WHERE id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	now = now.Add(b.cfg.KeyCacheTTL - time.Millisecond)
	if got := get(); got != http.StatusForbidden {
		t.Fatalf("within the TTL = %d, want the cached 403", got)
	}
	now = now.Add(time.Millisecond)
	if got := get(); got != http.StatusUnauthorized {
		t.Fatalf("at the TTL = %d, want 401", got)
	}
}

func TestLastUseIsWrittenAtMostOnceAMinute(t *testing.T) {
	b, admin := keysBundle(t)
	c := b.createKey(t, admin, `{"name":"u","role":"admin"}`)
	used := func() time.Time {
		var at *time.Time
		if err := b.pool.QueryRow(context.Background(), `SELECT last_used_at FROM api_keys WHERE id = $1`, c.ID).Scan(&at); err != nil {
			t.Fatal(err)
		}
		if at == nil {
			return time.Time{}
		}
		return *at
	}
	if !used().IsZero() {
		t.Fatal("a new key has a last use")
	}
	b.do(http.MethodGet, "/api/keys", "", bearer(c.Key)...)
	first := used()
	if first.IsZero() {
		t.Fatal("no last use after a request")
	}
	// Pretend the last write was 30 s ago: a use now writes nothing.
	if _, err := b.pool.Exec(context.Background(), `UPDATE api_keys SET last_used_at = last_used_at - interval '30 seconds' WHERE id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	b.svc.keys.touched[c.ID] = time.Now().Add(-2 * time.Minute) // this process would write
	b.do(http.MethodGet, "/api/keys", "", bearer(c.Key)...)
	if got := used(); !got.Equal(first.Add(-30 * time.Second)) {
		t.Errorf("last use %v rewritten within the minute (was %v)", got, first.Add(-30*time.Second))
	}
}

func TestAdminKeySeedIsIdempotent(t *testing.T) {
	b, admin := keysBundle(t)
	b.service(t, b.relay) // a second start, same key
	if n := b.count(t, `SELECT count(*) FROM api_keys WHERE hash = $1 AND role = 'admin'`, auth.Hash(admin)); n != 1 {
		t.Fatalf("%d admin keys after two starts", n)
	}
	if n := b.count(t, `SELECT count(*) FROM audit WHERE action = 'key.create'`); n != 1 {
		t.Fatalf("%d audit rows", n)
	}
}

func TestAuthNoneLetsEveryoneInAsAnonymous(t *testing.T) {
	b := setup(t, DefaultConfig())
	w := b.do(http.MethodPost, "/api/keys", `{"name":"a","role":"viewer"}`, "Content-Type", "application/json")
	var c CreatedKey
	decodeStrict(t, w, &c)
	if w.Code != http.StatusCreated {
		t.Fatalf("POST /api/keys = %d", w.Code)
	}
	if n := b.count(t, `SELECT count(*) FROM api_keys WHERE id = $1 AND created_by = 'anonymous'`, c.ID); n != 1 {
		t.Errorf("creator is not anonymous")
	}
}

func TestAuthenticationFailures(t *testing.T) {
	b, admin := keysBundle(t)
	other, _ := auth.Generate()
	expired := b.createKey(t, admin, `{"name":"e","role":"admin","expiresAt":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`)
	if _, err := b.pool.Exec(context.Background(), `UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, expired.ID); err != nil {
		t.Fatal(err)
	}
	b.svc.keys.forget()
	for _, tc := range []struct {
		name, header, message string
		presented             bool
	}{
		{"none", "", "needs an API key", false},
		{"basic", "Basic YTpi", "must be Bearer", true},
		{"empty bearer", "Bearer ", "must be Bearer", true},
		{"bad checksum", "Bearer " + admin[:len(admin)-1] + flipChar(admin[len(admin)-1]), "checksum", true},
		{"not a key", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "malformed", true},
		{"unknown", "Bearer " + other, "unknown", true},
		{"expired", "Bearer " + expired.Key, "expired", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.header != "" {
				hdr = []string{"Authorization", tc.header}
			}
			w := b.do(http.MethodGet, "/api/keys", "", hdr...)
			e := wantError(t, w, http.StatusUnauthorized, "API.UNAUTHENTICATED")
			if !strings.Contains(e.Message, tc.message) {
				t.Errorf("message %q, want %q in it", e.Message, tc.message)
			}
			want := `Bearer realm="jobweaver"`
			if tc.presented {
				want += `, error="invalid_token"`
			}
			if got := w.Header().Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
		})
	}
	// The health checks stay open.
	for _, p := range []string{"/health", "/actuator/health"} {
		if w := b.do(http.MethodGet, p, ""); w.Code != http.StatusOK {
			t.Errorf("GET %s = %d", p, w.Code)
		}
	}
}

func flipChar(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestAuthConfig(t *testing.T) {
	key, _ := auth.Generate()
	for _, tc := range []struct {
		name string
		vars map[string]string
		err  string // in the error; "" means valid
	}{
		{"defaults", nil, ""},
		{"keys", map[string]string{"API_AUTH": "keys", "API_ADMIN_KEY": key, "API_KEY_CACHE_TTL": "200ms"}, ""},
		{"upper case", map[string]string{"API_AUTH": "KEYS"}, ""},
		{"jwt", map[string]string{"API_AUTH": "jwt", "AUTH_JWT_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc", "AUTH_JWT_AUDIENCE": "client"}, ""},
		{"keys,jwt with scopes", map[string]string{"API_AUTH": "keys,jwt", "AUTH_JWT_ISSUER": "http://127.0.0.1:9999", "AUTH_JWT_AUDIENCE": "client",
			"AUTH_JWT_ROLE_CLAIM": "roles", "AUTH_JWT_SCOPE_ROLES": "jobweaver/read=viewer, jobweaver/write=operator"}, ""},
		{"bad mode", map[string]string{"API_AUTH": "oauth"}, "API_AUTH"},
		{"jwt without issuer", map[string]string{"API_AUTH": "jwt", "AUTH_JWT_AUDIENCE": "client"}, "AUTH_JWT_ISSUER"},
		{"jwt issuer not a URL", map[string]string{"API_AUTH": "keys,jwt", "AUTH_JWT_ISSUER": "cognito", "AUTH_JWT_AUDIENCE": "client"}, "AUTH_JWT_ISSUER"},
		{"jwt without audience", map[string]string{"API_AUTH": "jwt", "AUTH_JWT_ISSUER": "https://issuer.example"}, "AUTH_JWT_AUDIENCE"},
		{"scope roles without =", map[string]string{"AUTH_JWT_SCOPE_ROLES": "jobweaver/read"}, "AUTH_JWT_SCOPE_ROLES"},
		{"scope roles bad role", map[string]string{"AUTH_JWT_SCOPE_ROLES": "jobweaver/read=reader"}, "AUTH_JWT_SCOPE_ROLES"},
		{"bad admin key", map[string]string{"API_ADMIN_KEY": key[:len(key)-1] + flipChar(key[len(key)-1])}, "API_ADMIN_KEY"},
		{"ttl too long", map[string]string{"API_KEY_CACHE_TTL": "11s"}, "API_KEY_CACHE_TTL"},
		{"ttl zero", map[string]string{"API_KEY_CACHE_TTL": "0s"}, "API_KEY_CACHE_TTL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := config.FromMap(tc.vars)
			cfg := ConfigFromEnv(env)
			err := env.Err()
			if err == nil {
				err = cfg.validate()
			}
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one naming %s", err, tc.err)
			}
			if v := tc.vars["API_ADMIN_KEY"]; v != "" && strings.Contains(err.Error(), v[3:]) {
				t.Errorf("the error shows the key: %v", err)
			}
		})
	}
	if d := DefaultConfig(); d.Auth != AuthNone || d.KeyCacheTTL != 10*time.Second {
		t.Errorf("defaults %+v", d)
	}
}

func TestEnsureAdminKeyOnlyWhenNoneIsUsable(t *testing.T) {
	b := setup(t, DefaultConfig())
	ctx := context.Background()
	first, err := EnsureAdminKey(ctx, b.pool, "make run")
	if err != nil || !auth.Valid(first) {
		t.Fatalf("first = %q, %v", first, err)
	}
	if again, err := EnsureAdminKey(ctx, b.pool, "make run"); err != nil || again != "" {
		t.Fatalf("with a usable admin key: %q, %v", again, err)
	}
	// Revoked, or expired: a new one.
	for _, spoil := range []string{`revoked_at = now()`, `expires_at = now() - interval '1 second'`} {
		if _, err := b.pool.Exec(ctx, `UPDATE api_keys SET `+spoil); err != nil {
			t.Fatal(err)
		}
		k, err := EnsureAdminKey(ctx, b.pool, "make run")
		if err != nil || !auth.Valid(k) {
			t.Fatalf("after %s: %q, %v", spoil, k, err)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM api_keys WHERE role = 'admin' AND created_by = 'make run'`); n != 3 {
		t.Errorf("%d admin keys, want 3", n)
	}
}
