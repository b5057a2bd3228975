package emulator

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/stacktest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// Access control is the api function's own code, so it holds the same
// under the emulator (the api reached through the Lambda Invoke API, with
// its settings from the function's environment): 401 with the Bearer
// challenge through the API Gateway response, 403 for a low role, the
// admin key seeded from API_ADMIN_KEY, and a key revoked by another
// process refused once the warm function's cache entry is older than
// API_KEY_CACHE_TTL.
func TestAccessControlUnderTheEmulator(t *testing.T) {
	admin, err := auth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	s := startStack(t, true, map[string]string{"API_AUTH": "keys", "API_ADMIN_KEY": admin, "API_KEY_CACHE_TTL": "100ms"}, nil)
	r := s.Do(t, http.MethodGet, "/api/jobs", "")
	if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Bearer realm="jobweaver"`) ||
		r.JSON(t)["errorCode"] != "API.UNAUTHENTICATED" {
		t.Fatalf("no key = %d %v %s", r.Status, r.Header, r.Body)
	}
	if r := s.Do(t, http.MethodGet, "/health", ""); r.Status != http.StatusOK {
		t.Fatalf("GET /health = %d", r.Status)
	}
	r = s.Do(t, http.MethodPost, "/api/keys", `{"name":"v","role":"viewer"}`, "Authorization", "Bearer "+admin)
	created := r.JSON(t)
	viewer, _ := created["key"].(string)
	id, _ := created["id"].(string)
	if r.Status != http.StatusCreated || !auth.Valid(viewer) {
		t.Fatalf("POST /api/keys = %d %s", r.Status, r.Body)
	}
	if r := s.Do(t, http.MethodPost, "/api/jobs", stacktest.JobJSON(`{"action":"LOG","message":"x"}`, 0), "Authorization", "Bearer "+viewer); r.Status != http.StatusForbidden || r.JSON(t)["errorCode"] != "API.FORBIDDEN" {
		t.Fatalf("viewer POST /api/jobs = %d %s", r.Status, r.Body)
	}
	get := func() int { return s.Do(t, http.MethodGet, "/api/jobs", "", "Authorization", "Bearer "+viewer).Status }
	if got := get(); got != http.StatusOK {
		t.Fatalf("viewer GET /api/jobs = %d", got)
	}
	if _, err := s.DBs["api"].Exec(context.Background(), `UPDATE api_keys SET revoked_at = now() WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	testwait.Eventually(t, stacktest.Bound, "the revoked key refused by the warm api", func() bool { return get() == http.StatusUnauthorized })
}
