package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/api"
	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/jwttest"
	"github.com/jobweaver/jobweaver/shared/stacktest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// rbacRoute is one route of the matrix: a request that, when the caller
// may send it, gets ok; need is the least role (auth.Open: none).
type rbacRoute struct {
	method, path string // the route's pattern (api.Endpoints)
	target, body string // what is sent
	need         auth.Role
	ok           int
}

// missing is an ID that names nothing.
const missing = "01900000-0000-7000-8000-000000000000"

// rbacRoutes has a row for every route of the api; a route without one
// fails TestRBACMatrix.
var rbacRoutes = []rbacRoute{
	{"POST", "/api/jobs", "/api/jobs", stacktest.JobJSON(`{"action":"LOG","message":"rbac"}`, 0), auth.Operator, http.StatusAccepted},
	{"POST", "/api/jobs/batch", "/api/jobs/batch", `{"jobs":[` + stacktest.JobJSON(`{"action":"LOG","message":"rbac"}`, 0) + `]}`, auth.Operator, http.StatusAccepted},
	{"GET", "/api/jobs", "/api/jobs?size=1", "", auth.Viewer, http.StatusOK},
	{"GET", "/api/jobs/{id}", "/api/jobs/" + missing, "", auth.Viewer, http.StatusNotFound},
	{"DELETE", "/api/jobs/{id}", "/api/jobs/" + missing, "", auth.Operator, http.StatusNotFound},
	{"GET", "/api/jobs/{id}/executions", "/api/jobs/" + missing + "/executions", "", auth.Viewer, http.StatusNotFound},
	{"GET", "/api/jobs/{id}/history", "/api/jobs/" + missing + "/history", "", auth.Viewer, http.StatusNotFound},
	{"GET", "/api/jobs/{id}/items", "/api/jobs/" + missing + "/items", "", auth.Viewer, http.StatusNotFound},
	{"GET", "/api/jobs/{id}/trace", "/api/jobs/" + missing + "/trace", "", auth.Viewer, http.StatusNotFound},
	{"GET", "/api/dlq", "/api/dlq", "", auth.Viewer, http.StatusOK},
	{"GET", "/api/dlq/{id}", "/api/dlq/" + missing, "", auth.Viewer, http.StatusNotFound},
	{"POST", "/api/dlq/{id}/retry", "/api/dlq/" + missing + "/retry", "", auth.Operator, http.StatusNotFound},
	{"POST", "/api/dlq/{id}/dismiss", "/api/dlq/" + missing + "/dismiss", "", auth.Operator, http.StatusNotFound},
	{"POST", "/api/dlq/retry", "/api/dlq/retry", `{"ids":["` + missing + `"]}`, auth.Operator, http.StatusAccepted},
	{"POST", "/api/dlq/dismiss", "/api/dlq/dismiss", `{"ids":["` + missing + `"]}`, auth.Operator, http.StatusAccepted},
	{"GET", "/api/operations/{id}", "/api/operations/" + missing, "", auth.Viewer, http.StatusNotFound},
	{"GET", "/api/system", "/api/system", "", auth.Viewer, http.StatusOK},
	{"POST", "/api/keys", "/api/keys", `{"name":"rbac","role":"viewer"}`, auth.Admin, http.StatusCreated},
	{"GET", "/api/keys", "/api/keys", "", auth.Admin, http.StatusOK},
	{"DELETE", "/api/keys/{id}", "/api/keys/" + missing, "", auth.Admin, http.StatusNotFound},
	{"GET", "/api/audit", "/api/audit", "", auth.Admin, http.StatusOK},
	{"GET", "/api/whoami", "/api/whoami", "", auth.Viewer, http.StatusOK},
	{"POST", "/api/jobs/{id}/callbacks/{token}", "/api/jobs/" + missing + "/callbacks/" + strings.Repeat("A", 32), `{}`, auth.Open, http.StatusNotFound},
	{"GET", "/health", "/health", "", auth.Open, http.StatusOK},
	{"GET", "/actuator/health", "/actuator/health", "", auth.Open, http.StatusOK},
}

// authStack starts a stack with API_AUTH=keys, its admin key seeded, and
// a short key cache (so that the revocation test waits little).
func authStack(t *testing.T) (*stack, string) {
	t.Helper()
	admin, err := auth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return startStack(t, map[string]string{"API_AUTH": "keys", "API_ADMIN_KEY": admin, "API_KEY_CACHE_TTL": "100ms"}), admin
}

// newKey creates a key with the admin key and returns it and its ID.
func (s *stack) newKey(t *testing.T, admin, role, expiresAt string) (key, id string) {
	t.Helper()
	body := `{"name":"` + role + `","role":"` + role + `"`
	if expiresAt != "" {
		body += `,"expiresAt":"` + expiresAt + `"`
	}
	r := s.Do(t, http.MethodPost, "/api/keys", body+"}", "Authorization", "Bearer "+admin)
	m := r.JSON(t)
	key, _ = m["key"].(string)
	id, _ = m["id"].(string)
	if r.Status != http.StatusCreated || !auth.Valid(key) || id == "" {
		t.Fatalf("POST /api/keys (%s) = %d %s", role, r.Status, r.Body)
	}
	return key, id
}

// rbacCaller is one kind of caller of the RBAC matrix.
type rbacCaller struct {
	name   string
	header string    // Authorization; "" sends none
	role   auth.Role // auth.Open: refused (refused) unless the route is open
	// refused is what a caller with no role gets on a route that needs
	// one: 401 (no or a bad credential; the default) or 403 (a valid
	// JWT that names no role).
	refused int
}

// TestRBACMatrix: every route of the api × every kind of caller against
// one stack with API_AUTH=keys,jwt over a local OIDC issuer (jwttest).
// Key callers: no credentials, an unknown key, a bad checksum, an expired
// or a revoked key get 401 API.UNAUTHENTICATED with the Bearer challenge.
// JWT callers (jwtCallers): expired, wrong issuer, audience or signature,
// an unknown key ID and alg=none get 401 too; a valid token with no role
// gets 403 on every route that needs one. A key or a JWT (groups or
// scopes) whose role is below the route's gets 403 API.FORBIDDEN naming
// the role; the rest reach the handler. Open routes answer everyone. The
// subtests run in parallel; the whole matrix costs the issuer one
// discovery and one JWKS fetch.
func TestRBACMatrix(t *testing.T) {
	start := time.Now()
	iss := jwttest.New(t)
	s, admin := jwtStack(t, iss)
	viewer, _ := s.newKey(t, admin, "viewer", "")
	operator, operatorID := s.newKey(t, admin, "operator", "")
	adminKey, adminID := s.newKey(t, admin, "admin", "")
	revoked, revokedID := s.newKey(t, admin, "admin", "")
	if r := s.Do(t, http.MethodDelete, "/api/keys/"+revokedID, "", "Authorization", "Bearer "+admin); r.Status != http.StatusOK {
		t.Fatalf("revoke = %d %s", r.Status, r.Body)
	}
	expired, expiredID := s.newKey(t, admin, "admin", time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if _, err := s.DBs["api"].Exec(context.Background(), `UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, expiredID); err != nil {
		t.Fatal(err)
	}
	unknown, _ := auth.Generate()
	badSum := adminKey[:len(adminKey)-1] + map[bool]string{true: "b", false: "a"}[adminKey[len(adminKey)-1] == 'a']

	creds := []rbacCaller{
		{name: "no credentials", header: "", role: auth.Open},
		{name: "unknown key", header: "Bearer " + unknown, role: auth.Open},
		{name: "bad checksum", header: "Bearer " + badSum, role: auth.Open},
		{name: "expired key", header: "Bearer " + expired, role: auth.Open},
		{name: "revoked key", header: "Bearer " + revoked, role: auth.Open},
		{name: "viewer", header: "Bearer " + viewer, role: auth.Viewer},
		{name: "operator", header: "Bearer " + operator, role: auth.Operator},
		{name: "admin", header: "Bearer " + adminKey, role: auth.Admin},
	}
	creds = append(creds, jwtCallers(t, iss)...)

	rows := map[string]rbacRoute{}
	for _, rt := range rbacRoutes {
		rows[rt.method+" "+rt.path] = rt
	}
	// The group waits for its parallel subtests, so that what follows it
	// sees all their requests.
	matrix := time.Now()
	t.Run("matrix", func(t *testing.T) {
		for _, e := range api.Endpoints() {
			rt, ok := rows[e.Method+" "+e.Path]
			if !ok {
				t.Errorf("%s %s has no row in the RBAC matrix (rbacRoutes)", e.Method, e.Path)
				continue
			}
			if got := auth.Required(e.Method + " " + e.Path); got != rt.need {
				t.Errorf("%s %s: the service asks for %s, the matrix expects %s", e.Method, e.Path, got, rt.need)
			}
			for _, c := range creds {
				t.Run(e.Method+" "+e.Path+"/"+c.name, func(t *testing.T) {
					t.Parallel()
					want := rt.ok
					switch {
					case rt.need == auth.Open:
					case c.role == auth.Open && c.refused != 0:
						want = c.refused
					case c.role == auth.Open:
						want = http.StatusUnauthorized
					case !c.role.Allows(rt.need):
						want = http.StatusForbidden
					}
					var hdr []string
					if c.header != "" {
						hdr = []string{"Authorization", c.header}
					}
					r := s.Do(t, rt.method, rt.target, rt.body, hdr...)
					if r.Status != want {
						t.Fatalf("%s %s as %s = %d, want %d: %.300s", rt.method, rt.target, c.name, r.Status, want, r.Body)
					}
					switch want {
					case http.StatusUnauthorized:
						if m := r.JSON(t); m["errorCode"] != "API.UNAUTHENTICATED" {
							t.Errorf("401 body %s", r.Body)
						}
						if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, `Bearer realm="jobweaver"`) {
							t.Errorf("WWW-Authenticate = %q", h)
						}
					case http.StatusForbidden:
						m := r.JSON(t)
						if msg, _ := m["message"].(string); m["errorCode"] != "API.FORBIDDEN" || !strings.Contains(msg, rt.need.String()) {
							t.Errorf("403 body %s does not name %s", r.Body, rt.need)
						}
					}
				})
			}
		}
	})
	t.Logf("%d routes × %d callers in %s (the stack's start and the keys before: %s)",
		len(api.Endpoints()), len(creds), time.Since(matrix).Round(time.Millisecond), matrix.Sub(start).Round(time.Millisecond))

	// What a key does is recorded under its ID: the key it created, the
	// bulk DLQ operations it asked for (the dlq's requested_by).
	if n := s.Count(t, "api", `SELECT count(*) FROM api_keys WHERE name = 'rbac' AND created_by = $1`, adminID); n != 1 {
		t.Errorf("%d keys created by the admin key %s, want 1", n, adminID)
	}
	if n := s.Count(t, "dlq", `SELECT count(*) FROM operations WHERE requested_by = $1`, operatorID); n != 2 {
		t.Errorf("%d DLQ operations requested by the operator key %s, want 2 (retry, dismiss)", n, operatorID)
	}
	checkJWTCallers(t, s, iss, start)
}

// TestRevocationReachesTheAPIWithinTheCacheTTL: a key revoked in the
// database by another api process (not this one, which would forget its
// cache at once) is refused once this process's cache entry is older than
// API_KEY_CACHE_TTL (100ms here; 10 s by default).
func TestRevocationReachesTheAPIWithinTheCacheTTL(t *testing.T) {
	s, admin := authStack(t)
	key, id := s.newKey(t, admin, "viewer", "")
	get := func() int { return s.Do(t, http.MethodGet, "/api/dlq", "", "Authorization", "Bearer "+key).Status }
	if got := get(); got != http.StatusOK {
		t.Fatalf("before = %d", got)
	}
	if _, err := s.DBs["api"].Exec(context.Background(), `UPDATE api_keys SET revoked_at = now() WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	testwait.Eventually(t, stacktest.Bound, "the revoked key refused", func() bool { return get() == http.StatusUnauthorized })
	if n := s.Count(t, "api", `SELECT count(*) FROM api_keys WHERE id = $1 AND last_used_at IS NOT NULL`, id); n != 1 {
		t.Errorf("the key's last use is not recorded")
	}
}
