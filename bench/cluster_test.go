package main

import (
	"strings"
	"testing"
)

func TestUnlikeProduction(t *testing.T) {
	prod := map[string]string{"autovacuum": "on", "fsync": "on", "synchronous_commit": "on", "full_page_writes": "on", "shared_buffers": "512MB"}
	for _, c := range []struct {
		name string
		set  map[string]string
		want string
	}{
		{"production", nil, ""},
		{"CI server", map[string]string{"autovacuum": "off"}, "autovacuum=off"},
		{"unsafe", map[string]string{"fsync": "off", "synchronous_commit": "off"}, "fsync=off, synchronous_commit=off"},
		{"synchronous_commit local is not on", map[string]string{"synchronous_commit": "local"}, "synchronous_commit=local"},
	} {
		s := &server{url: "postgres://x", version: "15.20", settings: map[string]string{}}
		for k, v := range prod {
			s.settings[k] = v
		}
		for k, v := range c.set {
			s.settings[k] = v
		}
		if got := s.unlikeProduction(); got != c.want {
			t.Errorf("%s: unlikeProduction = %q, want %q", c.name, got, c.want)
		}
		h := strings.Join(header(s), "\n")
		if !strings.Contains(h, "autovacuum="+s.settings["autovacuum"]) || !strings.Contains(h, "shared_buffers=512MB") {
			t.Errorf("%s: header does not show the settings:\n%s", c.name, h)
		}
		if (c.want != "") != strings.Contains(h, "WARNING") {
			t.Errorf("%s: header WARNING present = %v, want %v:\n%s", c.name, !(c.want != ""), c.want != "", h)
		}
	}
}
