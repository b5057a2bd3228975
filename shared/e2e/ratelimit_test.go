package e2e

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/jobweaver/jobweaver/shared/auth"
)

// TestRateLimits: through the real stack with API_AUTH=keys and
// API_RATE_LIMIT on, two keys with their own limit of 3 at once (a token
// every 10 s): the first gets its burst, then 429 API.RATE_LIMITED with
// Retry-After and the RateLimit-* headers; the second is untouched, and
// so is the admin key (API_RATE_LIMIT) and the health check.
func TestRateLimits(t *testing.T) {
	admin, err := auth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	s := startStack(t, map[string]string{"API_AUTH": "keys", "API_ADMIN_KEY": admin,
		"API_RATE_LIMIT": "500", "API_RATE_BURST": "500"})
	newKey := func(name string) string {
		r := s.Do(t, http.MethodPost, "/api/keys", `{"name":"`+name+`","role":"operator","rateLimit":0.1,"rateBurst":3}`,
			"Authorization", "Bearer "+admin)
		m := r.JSON(t)
		key, _ := m["key"].(string)
		if r.Status != http.StatusCreated || m["rateLimit"] != 0.1 || m["rateBurst"] != 3.0 {
			t.Fatalf("POST /api/keys = %d %s", r.Status, r.Body)
		}
		if r.Header.Get("RateLimit-Limit") != "500" {
			t.Fatalf("admin's RateLimit-Limit %q, want API_RATE_BURST", r.Header.Get("RateLimit-Limit"))
		}
		return key
	}
	busy, quiet := newKey("busy"), newKey("quiet")

	steps := []struct {
		key       string
		status    int // 0: anything but 429
		remaining string
	}{
		{busy, 0, "2"}, {busy, 0, "1"}, {busy, 0, "0"},
		{busy, http.StatusTooManyRequests, "0"}, {busy, http.StatusTooManyRequests, "0"},
		{quiet, 0, "2"}, {quiet, 0, "1"}, {quiet, 0, "0"},
		{busy, http.StatusTooManyRequests, "0"},
	}
	for i, st := range steps {
		r := s.Do(t, http.MethodGet, "/api/jobs?size=1", "", "Authorization", "Bearer "+st.key)
		if r.Header.Get("RateLimit-Limit") != "3" || r.Header.Get("RateLimit-Remaining") != st.remaining || r.Header.Get("RateLimit-Reset") == "" {
			t.Fatalf("step %d: status %d, headers %v", i, r.Status, r.Header)
		}
		if st.status == 0 {
			if r.Status == http.StatusTooManyRequests {
				t.Fatalf("step %d: 429 %s", i, r.Body)
			}
			continue
		}
		m := r.JSON(t)
		ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if r.Status != st.status || m["errorCode"] != "API.RATE_LIMITED" || err != nil || ra < 1 || ra > 10 {
			t.Fatalf("step %d: %d Retry-After %q %s", i, r.Status, r.Header.Get("Retry-After"), r.Body)
		}
	}
	if r := s.Do(t, http.MethodGet, "/health", "", "Authorization", "Bearer "+busy); r.Status != http.StatusOK || r.Header.Get("RateLimit-Limit") != "" {
		t.Fatalf("health: %d %v", r.Status, r.Header)
	}
	// The listing shows each key's own limit.
	r := s.Do(t, http.MethodGet, "/api/keys", "", "Authorization", "Bearer "+admin)
	var own int
	for _, k := range r.JSON(t)["content"].([]any) {
		if m := k.(map[string]any); m["rateLimit"] == 0.1 && m["rateBurst"] == 3.0 {
			own++
		}
	}
	if r.Status != http.StatusOK || own != 2 {
		t.Fatalf("GET /api/keys = %d %s", r.Status, r.Body)
	}
}
