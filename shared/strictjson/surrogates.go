package strictjson

// CheckSurrogates reports a \uXXXX escape of a UTF-16 surrogate that is
// not half of a pair (\ud800 alone, \udc00 first): JSON parsers accept
// it, Postgres jsonb refuses it. raw is a JSON document.
func CheckSurrogates(raw []byte) error {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // the escaped character
			continue
		}
		u, ok := hex4(raw, i+2)
		if !ok {
			i++
			continue
		}
		switch {
		case u >= 0xD800 && u <= 0xDBFF:
			if i+12 <= len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				if l, ok := hex4(raw, i+8); ok && l >= 0xDC00 && l <= 0xDFFF {
					i += 11
					continue
				}
			}
			return &TextError{Offset: i, Reason: "an unpaired UTF-16 surrogate escape"}
		case u >= 0xDC00 && u <= 0xDFFF:
			return &TextError{Offset: i, Reason: "an unpaired UTF-16 surrogate escape"}
		}
		i += 5
	}
	return nil
}

// hex4 reads the four hex digits at raw[i:].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	var u rune
	for _, c := range raw[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			u = u<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			u = u<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			u = u<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return u, true
}
