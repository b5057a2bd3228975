// Package pgtext makes text from outside (Kafka records, step output,
// error messages) safe to store in Postgres text and jsonb values, which
// refuse invalid UTF-8 and NUL characters.
package pgtext

import (
	"strings"
	"unicode/utf8"
)

// Clean returns s as valid UTF-8 (each invalid run becomes U+FFFD) without
// NUL characters, cut to at most max bytes at a character boundary; a
// negative max keeps the whole string.
func Clean(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if max >= 0 && len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}
