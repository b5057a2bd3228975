package api

import (
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/jwttest"
)

// TestWhoami asks GET /api/whoami as every kind of caller: with auth off,
// with keys of each role, with a JWT, and with credentials that are
// refused (the 401's message says why, as the console shows it).
func TestWhoami(t *testing.T) {
	none := setup(t, DefaultConfig())
	keys, admin := keysBundle(t)
	viewer := keys.createKey(t, admin, `{"name":"wall screen","role":"viewer"}`)
	operator := keys.createKey(t, admin, `{"name":"on call","role":"operator"}`)
	revoked := keys.createKey(t, admin, `{"name":"old","role":"operator"}`)
	if w := keys.do(http.MethodDelete, "/api/keys/"+revoked.ID, "", bearer(admin)...); w.Code != http.StatusOK {
		t.Fatalf("revoke = %d %s", w.Code, w.Body)
	}
	iss := jwttest.New(t)
	jwt := jwtBundle(t, iss.URL)
	token := iss.Sign(t, iss.Claims("u-42", testAudience, map[string]any{"cognito:groups": []string{"operator"}}))
	noRole := iss.Sign(t, iss.Claims("u-43", testAudience, nil))

	for _, tc := range []struct {
		name   string
		b      *bundle
		header []string
		want   Whoami
		status int
		code   string
		msg    string // in the error's message
	}{
		{"auth off: the anonymous admin", none, nil, Whoami{Caller: "anonymous", Role: "admin", Auth: "none"}, 200, "", ""},
		{"auth off ignores a header", none, bearer("jw_nonsense"), Whoami{Caller: "anonymous", Role: "admin", Auth: "none"}, 200, "", ""},
		{"the seeded admin key", keys, bearer(admin), Whoami{Role: "admin", Auth: "keys", Name: adminKeyName}, 200, "", ""},
		{"a viewer key", keys, bearer(viewer.Key), Whoami{Caller: viewer.ID, Role: "viewer", Auth: "keys", Name: "wall screen"}, 200, "", ""},
		{"an operator key", keys, bearer(operator.Key), Whoami{Caller: operator.ID, Role: "operator", Auth: "keys", Name: "on call"}, 200, "", ""},
		{"a JWT", jwt, bearer(token), Whoami{Caller: "jwt:u-42", Role: "operator", Auth: "jwt"}, 200, "", ""},
		{"no credentials", keys, nil, Whoami{}, 401, "API.UNAUTHENTICATED", "needs an API key"},
		{"a mistyped key", keys, bearer(viewer.Key[:len(viewer.Key)-1] + flipChar(viewer.Key[len(viewer.Key)-1])), Whoami{}, 401, "API.UNAUTHENTICATED", "checksum"},
		{"a revoked key", keys, bearer(revoked.Key), Whoami{}, 401, "API.UNAUTHENTICATED", "revoked"},
		{"a JWT naming no role", jwt, bearer(noRole), Whoami{}, 403, "API.FORBIDDEN", "no role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.b.do(http.MethodGet, "/api/whoami", "", tc.header...)
			if tc.status != http.StatusOK {
				e := wantError(t, w, tc.status, tc.code)
				if !strings.Contains(e.Message, tc.msg) {
					t.Errorf("message %q does not say %q", e.Message, tc.msg)
				}
				return
			}
			if w.Code != http.StatusOK {
				t.Fatalf("GET /api/whoami = %d %s", w.Code, w.Body)
			}
			var got Whoami
			decodeStrict(t, w, &got)
			if tc.want.Caller == "" { // the seeded key's ID is made at start
				if len(got.Caller) != 36 {
					t.Errorf("caller %q is not a key ID", got.Caller)
				}
				tc.want.Caller = got.Caller
			}
			if got != tc.want {
				t.Errorf("whoami = %+v, want %+v", got, tc.want)
			}
			if tc.want.Name == "" && strings.Contains(w.Body.String(), `"name"`) {
				t.Errorf("body %s has a name", w.Body)
			}
		})
	}
}

func TestOpenAPIWhoamiSchema(t *testing.T) {
	props := mapAt(t, openAPI(t), "components", "schemas", "Whoami", "properties")
	var documented []string
	for k := range props {
		documented = append(documented, k)
	}
	sort.Strings(documented)
	if got := jsonFields(reflect.TypeOf(Whoami{})); !reflect.DeepEqual(got, documented) {
		t.Errorf("schema Whoami documents %v; Whoami writes %v", documented, got)
	}
}
