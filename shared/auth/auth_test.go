package auth

import (
	"context"
	"strings"
	"testing"
)

func TestGeneratedKeysAreValidAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		k, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(k) != KeyLen || !strings.HasPrefix(k, Prefix) || !Valid(k) {
			t.Fatalf("Generate() = %q: length %d, valid %v", k, len(k), Valid(k))
		}
		if seen[k] {
			t.Fatalf("Generate() repeated %q", k)
		}
		seen[k] = true
	}
}

func TestValid(t *testing.T) {
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	body := k[len(Prefix) : len(Prefix)+bodyLen]
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	for _, tc := range []struct {
		name, key string
		want      bool
	}{
		{"generated", k, true},
		{"zero body", Prefix + strings.Repeat("0", bodyLen) + checksum(strings.Repeat("0", bodyLen)), true},
		{"empty", "", false},
		{"no prefix", "xx_" + k[3:], false},
		{"upper-case prefix", "JW_" + k[3:], false},
		{"body changed", flip(k, 10), false},
		{"checksum changed", flip(k, KeyLen-1), false},
		{"checksum of another body", Prefix + body + checksum(flip(body, 0)), false},
		{"too short", k[:KeyLen-1], false},
		{"too long", k + "0", false},
		{"not base62", k[:20] + "-" + k[21:], false},
		{"trailing space", k[:KeyLen-1] + " ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Valid(tc.key); got != tc.want {
				t.Errorf("Valid(%q) = %v, want %v", tc.key, got, tc.want)
			}
		})
	}
}

func TestHashAndDisplayPrefix(t *testing.T) {
	k, _ := Generate()
	k2, _ := Generate()
	if h := Hash(k); len(h) != 32 || !Equal(h, Hash(k)) || Equal(h, Hash(k2)) {
		t.Errorf("Hash: %x vs %x", h, Hash(k2))
	}
	if Equal(Hash(k), Hash(k)[:31]) {
		t.Error("Equal accepted hashes of different lengths")
	}
	if p := DisplayPrefix(k); p != k[:11] || !strings.HasPrefix(p, Prefix) {
		t.Errorf("DisplayPrefix = %q", p)
	}
}

func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		have, need Role
		want       bool
	}{
		{Viewer, Open, true},
		{Viewer, Viewer, true},
		{Viewer, Operator, false},
		{Viewer, Admin, false},
		{Operator, Viewer, true},
		{Operator, Operator, true},
		{Operator, Admin, false},
		{Admin, Viewer, true},
		{Admin, Operator, true},
		{Admin, Admin, true},
	} {
		if got := tc.have.Allows(tc.need); got != tc.want {
			t.Errorf("%s.Allows(%s) = %v, want %v", tc.have, tc.need, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		want Role
		ok   bool
	}{
		{"viewer", Viewer, true}, {"operator", Operator, true}, {"admin", Admin, true},
		{"Admin", 0, false}, {"open", 0, false}, {"", 0, false}, {"root", 0, false},
	} {
		got, err := ParseRole(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseRole(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestRequired(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		want    Role
	}{
		{"GET /health", Open},
		{"GET /actuator/health", Open},
		{"GET /api/jobs", Viewer},
		{"GET /api/jobs/{id}", Viewer},
		{"GET /api/jobs/{id}/executions", Viewer},
		{"GET /api/jobs/{id}/history", Viewer},
		{"GET /api/dlq", Viewer},
		{"GET /api/dlq/{id}", Viewer},
		{"GET /api/operations/{id}", Viewer},
		{"GET /api/system", Viewer}, // not listed: every GET is a viewer's
		{"POST /api/jobs", Operator},
		{"POST /api/jobs/batch", Operator},
		{"DELETE /api/jobs/{id}", Operator},
		{"POST /api/dlq/{id}/retry", Operator},
		{"POST /api/dlq/{id}/dismiss", Operator},
		{"POST /api/dlq/retry", Operator},
		{"POST /api/dlq/dismiss", Operator},
		{"POST /api/keys", Admin},
		{"GET /api/keys", Admin},
		{"DELETE /api/keys/{id}", Admin},
		{"GET /api/audit", Admin},
		{"PUT /api/settings", Admin},   // not listed: closed to all but admins
		{"GET /internal/x", Admin},     // not under /api/
		{"POST /api/new-thing", Admin}, // a new write route
	} {
		if got := Required(tc.pattern); got != tc.want {
			t.Errorf("Required(%q) = %s, want %s", tc.pattern, got, tc.want)
		}
	}
}

func TestCaller(t *testing.T) {
	if c := CallerOf(context.Background()); c.ID != Anonymous || c.Role != Open {
		t.Errorf("CallerOf(empty) = %+v", c)
	}
	c := Caller{ID: "0192", Role: Operator}
	if got := CallerOf(WithCaller(context.Background(), c)); got != c {
		t.Errorf("CallerOf = %+v, want %+v", got, c)
	}
}

func TestRoleText(t *testing.T) {
	var r Role
	if err := r.UnmarshalText([]byte("operator")); err != nil || r != Operator {
		t.Errorf("UnmarshalText = %v, %v", r, err)
	}
	if err := r.UnmarshalText([]byte("root")); err == nil {
		t.Error("UnmarshalText accepted root")
	}
	if b, _ := Admin.MarshalText(); string(b) != "admin" {
		t.Errorf("MarshalText = %s", b)
	}
}
