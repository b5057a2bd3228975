package devstack

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/auth"
)

var keyInBanner = regexp.MustCompile(`jw_[0-9A-Za-z]{49}`)

// With API_AUTH=keys and no API_ADMIN_KEY, the first start makes an admin
// key and shows it once in the summary; it works as an admin's. The next
// start on the same databases finds it and shows no key.
func TestFirstStartWithKeysMakesAnAdminKeyAndShowsItOnce(t *testing.T) {
	cfg := testConfigWith(t, map[string]string{"API_AUTH": "keys"})
	startOut := func() (*Stack, string) {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		var out bytes.Buffer
		s, err := Start(ctx, cfg, &out)
		if err != nil {
			t.Fatalf("Start: %v\n%s", err, out.String())
		}
		t.Cleanup(s.Close)
		return s, out.String()
	}
	s, out := startOut()
	key := keyInBanner.FindString(out)
	if !auth.Valid(key) {
		t.Fatalf("no valid admin key in the summary:\n%s", out)
	}
	if status, _ := callWith(t, http.MethodGet, s.APIURL+"/api/keys", "", map[string]string{"Authorization": "Bearer " + key}); status != http.StatusOK {
		t.Fatalf("GET /api/keys with the admin key = %d", status)
	}
	if status, _ := call(t, http.MethodGet, s.APIURL+"/api/jobs", ""); status != http.StatusUnauthorized {
		t.Fatalf("GET /api/jobs without a key = %d", status)
	}
	// The banner's examples carry what auth on needs: the key on the
	// public API, the internal secret on the internal reads.
	for _, want := range []string{"KEY=" + key + "\n", `/api/dlq -H "Authorization: Bearer $KEY"`,
		`/status -H "` + InternalSecretHeader + `: $(jq -r .internalSecret`} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary lacks %q:\n%s", want, out)
		}
	}
	// And the internal reads do need the secret with auth on.
	jobs := s.SchedulerURL + "/internal/jobs?page=0&size=1"
	if status, _ := call(t, http.MethodGet, jobs, ""); status != http.StatusForbidden {
		t.Errorf("internal read without the secret = %d, want 403", status)
	}
	if status, _ := callWith(t, http.MethodGet, jobs, "", map[string]string{InternalSecretHeader: s.InternalSecret}); status != http.StatusOK {
		t.Errorf("internal read with the secret = %d, want 200", status)
	}
	s.Close()

	s, out = startOut()
	if k := keyInBanner.FindString(out); k != "" || !bytes.Contains([]byte(out), []byte("one exists")) || !strings.Contains(out, "KEY=<your API key>") {
		t.Fatalf("the second start shows a key %q, or does not say one exists, or its examples lack KEY=<your API key>:\n%s", k, out)
	}
	if status, _ := callWith(t, http.MethodGet, s.APIURL+"/api/keys", "", map[string]string{"Authorization": "Bearer " + key}); status != http.StatusOK {
		t.Fatalf("the first key after a restart = %d", status)
	}
}
