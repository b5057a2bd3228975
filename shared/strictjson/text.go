package strictjson

import (
	"fmt"
	"unicode/utf8"
)

// TextError is CheckText's error: where the body holds text Postgres
// cannot store.
type TextError struct {
	Offset int    // byte offset in the body
	Reason string // what is there
}

func (e *TextError) Error() string {
	return fmt.Sprintf("%s at byte %d", e.Reason, e.Offset)
}

// CheckText reports text that JSON allows but a Postgres text or jsonb
// column refuses: bytes that are not UTF-8, and the escape \u0000 (NUL)
// in a string. raw is a JSON document; an escaped backslash followed by
// u0000 (`\\u0000`) is text, not a NUL, and passes.
func CheckText(raw []byte) error {
	if !utf8.Valid(raw) {
		i := 0
		for i < len(raw) {
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return &TextError{Offset: i, Reason: "bytes that are not UTF-8"}
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		if raw[i+1] == 'u' && i+5 < len(raw) && string(raw[i+2:i+6]) == "0000" {
			return &TextError{Offset: i, Reason: `a NUL character (\u0000)`}
		}
		i++ // the escaped character
	}
	return nil
}
