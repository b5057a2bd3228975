package api

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/paging"
)

func TestAuditListsWhoDidWhat(t *testing.T) {
	b, admin := keysBundle(t)
	var created []CreatedKey
	for _, role := range []string{"viewer", "operator", "admin"} {
		created = append(created, b.createKey(t, admin, `{"name":"`+role+`","role":"`+role+`"}`))
	}
	if w := b.do(http.MethodDelete, "/api/keys/"+created[0].ID, "", bearer(admin)...); w.Code != http.StatusOK {
		t.Fatalf("revoke = %d", w.Code)
	}
	list := func(query string) paging.Page[AuditEntry] {
		t.Helper()
		w := b.do(http.MethodGet, "/api/audit"+query, "", bearer(admin)...)
		if w.Code != http.StatusOK {
			t.Fatalf("GET /api/audit%s = %d %s", query, w.Code, w.Body)
		}
		var p paging.Page[AuditEntry]
		decodeStrict(t, w, &p)
		return p
	}
	// The seed, three creations and a revocation, newest first.
	all := list("")
	if len(all.Content) != 5 || all.TotalElements != 5 || all.Content[0].Action != "key.revoke" ||
		all.Content[0].Target != created[0].ID || all.Content[4].Caller != adminKeyName {
		t.Fatalf("audit %+v", all)
	}
	for i := 1; i < len(all.Content); i++ {
		if all.Content[i].At.After(all.Content[i-1].At) {
			t.Fatalf("not newest first: %+v", all.Content)
		}
	}
	seedID := all.Content[4].Target
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"?action=key.create", 4},
		{"?action=key.revoke&target=" + created[0].ID, 1},
		{"?caller=" + seedID, 4}, // the three creations and the revocation were the seeded key's
		{"?caller=nobody", 0},
		{"?from=" + url.QueryEscape(all.Content[0].At.Format(time.RFC3339Nano)), 1},
		{"?to=" + url.QueryEscape(all.Content[0].At.Format(time.RFC3339Nano)), 4},
	} {
		if got := list(tc.query); len(got.Content) != tc.want || got.TotalElements != int64(tc.want) {
			t.Errorf("%s: %d entries (total %d), want %d", tc.query, len(got.Content), got.TotalElements, tc.want)
		}
	}
	// A cursor walk with size 2 sees every entry once, in order.
	var walked []string
	for q := "?size=2"; ; {
		p := list(q)
		for _, e := range p.Content {
			walked = append(walked, e.ID)
		}
		if p.NextCursor == "" {
			break
		}
		q = "?size=2&cursor=" + p.NextCursor
	}
	if len(walked) != 5 {
		t.Fatalf("walked %v", walked)
	}
	for i, e := range all.Content {
		if walked[i] != e.ID {
			t.Fatalf("walk %v, list %+v", walked, all.Content)
		}
	}
	for _, q := range []string{"?from=yesterday", "?to=1", "?size=0"} {
		wantError(t, b.do(http.MethodGet, "/api/audit"+q, "", bearer(admin)...), http.StatusBadRequest, "API.INVALID_REQUEST")
	}
	wantError(t, b.do(http.MethodGet, "/api/audit?cursor=zz", "", bearer(admin)...), http.StatusBadRequest, "API.INVALID_CURSOR")
	wantError(t, b.do(http.MethodGet, "/api/audit", "", bearer(created[1].Key)...), http.StatusForbidden, "API.FORBIDDEN")
}
