package pgtext_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jobweaver/jobweaver/shared/pgtext"
)

func TestClean(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"plain", -1, "plain"},
		{"", 3, ""},
		{"a\x00b\x00", -1, "ab"},
		{"bad \xff\xfe byte", -1, "bad \uFFFD byte"},
		{"abcdef", 3, "abc"},
		{"abcdef", 0, ""},
		{"héllo", 2, "h"}, // é is two bytes: not cut in half
		{"héllo", 3, "hé"},
		{"日本", 5, "日"},
		{"\xffx", 3, "\uFFFD"},
		{"a\x00" + strings.Repeat("b", 10), 4, "abbb"}, // NULs go before the cut
	} {
		if got := pgtext.Clean(c.in, c.max); got != c.want {
			t.Errorf("Clean(%q, %d) = %q; want %q", c.in, c.max, got, c.want)
		}
	}
}

// FuzzClean: the result is valid UTF-8 without NUL, within max, and clean
// already.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"plain", "a\x00b", "bad \xff byte", "héllo", "日本語"} {
		f.Add(s, 3)
		f.Add(s, -1)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		got := pgtext.Clean(s, max)
		if !utf8.ValidString(got) || strings.IndexByte(got, 0) >= 0 || (max >= 0 && len(got) > max) {
			t.Fatalf("Clean(%q, %d) = %q", s, max, got)
		}
		if again := pgtext.Clean(got, max); again != got {
			t.Fatalf("Clean is not idempotent: %q then %q", got, again)
		}
	})
}
