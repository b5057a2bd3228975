// Package strictjson checks what encoding/json lets through: it matches
// object keys to struct fields without regard to case ({"JOBTYPE": ...}
// fills JobType) and keeps the last of two equal keys. The platform's
// contract is case-sensitive and has one value per field, so decoders
// call CheckKeys on an object before (or after) decoding it.
//
// json.Decoder also stops after one value and leaves the rest of a body
// unread: CheckEnd (or Decode, which calls it) refuses a body with data
// after its one JSON value (`{...}}`, `{} {}`, `{}x`).
package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// KeyError is a key the contract does not have, or has once.
type KeyError struct {
	Key string
	// Want is the field the key matches but for case; "" if none.
	Want      string
	Duplicate bool
}

func (e *KeyError) Error() string {
	switch {
	case e.Duplicate:
		return fmt.Sprintf("%q appears more than once", e.Key)
	case e.Want != "":
		return fmt.Sprintf("%q is not a field; field names are case-sensitive: %q", e.Key, e.Want)
	}
	return fmt.Sprintf("%q is not a field", e.Key)
}

// CheckKeys returns a *KeyError for the first key of the JSON object raw
// that is not exactly one of names, or that appears twice. Anything that
// is not a well-formed object is left to the decoder (nil). It scans the
// bytes once and allocates nothing for a valid object of plain keys: it
// runs on every submitted job and step.
func CheckKeys(raw []byte, names map[string]bool) error {
	var seenBuf [8][]byte
	seen := seenBuf[:0]
	var bad *KeyError
	eachKey(raw, func(key, _ []byte) bool {
		for _, k := range seen {
			if bytes.Equal(k, key) {
				bad = &KeyError{Key: string(key), Duplicate: true}
				return false
			}
		}
		seen = append(seen, key)
		if !names[string(key)] {
			bad = &KeyError{Key: string(key)}
			for n := range names {
				if strings.EqualFold(n, bad.Key) {
					bad.Want = n
				}
			}
			return false
		}
		return true
	})
	if bad != nil {
		return bad
	}
	return nil
}

// Value returns the raw value of the object raw's member named exactly
// key (the first one), or nil.
func Value(raw []byte, key string) []byte {
	var v []byte
	eachKey(raw, func(k, value []byte) bool {
		if string(k) == key {
			v = value
			return false
		}
		return true
	})
	return v
}

// eachKey calls fn with each member of the object raw, in order, until fn
// returns false; it stops quietly where raw is not well-formed.
func eachKey(raw []byte, fn func(key, value []byte) bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return
	}
	for i++; ; {
		i = skipSpace(raw, i)
		if i >= len(raw) || raw[i] == '}' {
			return
		}
		if raw[i] == ',' {
			i++
			continue
		}
		if raw[i] != '"' {
			return
		}
		end, escaped := scanString(raw, i)
		if end < 0 {
			return
		}
		key := raw[i+1 : end-1]
		if escaped {
			var k string
			if json.Unmarshal(raw[i:end], &k) != nil {
				return
			}
			key = []byte(k)
		}
		if i = skipSpace(raw, end); i >= len(raw) || raw[i] != ':' {
			return
		}
		start := skipSpace(raw, i+1)
		if i = skipValue(raw, start); i < 0 {
			return
		}
		if !fn(key, raw[start:i]) {
			return
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the index after the string starting at b[i] (a
// quote) and whether it holds escapes; -1 if it does not end.
func scanString(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, escaped
}

// skipValue returns the index after the value that starts at or after
// b[i]; -1 if it does not end.
func skipValue(b []byte, i int) int {
	i = skipSpace(b, i)
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := scanString(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := scanString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	for j := i; j < len(b); j++ { // a number, true, false or null
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
	}
	return len(b)
}

var fieldsCache sync.Map // reflect.Type -> map[string]bool

// Fields returns the JSON names of the fields of the struct v points to
// (or is): their json tags, else their Go names; "-" fields are left out.
func Fields(v any) map[string]bool {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if f, ok := fieldsCache.Load(t); ok {
		return f.(map[string]bool)
	}
	names := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names[name] = true
	}
	fieldsCache.Store(t, names)
	return names
}
