package devstack

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
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
	s.Close()

	s, out = startOut()
	if k := keyInBanner.FindString(out); k != "" || !bytes.Contains([]byte(out), []byte("one exists")) {
		t.Fatalf("the second start shows a key %q or does not say one exists:\n%s", k, out)
	}
	if status, _ := callWith(t, http.MethodGet, s.APIURL+"/api/keys", "", map[string]string{"Authorization": "Bearer " + key}); status != http.StatusOK {
		t.Fatalf("the first key after a restart = %d", status)
	}
}
