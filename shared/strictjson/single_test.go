package strictjson

import (
	"encoding/json"
	"errors"
	"testing"
)

// singleCases seed the table test and the fuzz test: bodies and whether
// they hold exactly one JSON value (as json.Valid decides).
var singleCases = []struct {
	body       string
	ok         bool
	trailingAt int64 // for a well-formed first value followed by data; -1 if none
}{
	{`{}`, true, -1},
	{"{} \n\t\r", true, -1},
	{` {"a":1} `, true, -1},
	{`{"a":"}"}`, true, -1},
	{`{"a":[1,{"b":2}]}`, true, -1},
	{`{"a":1}}`, false, 7},
	{`{} {}`, false, 3},
	{`{}x`, false, 2},
	{`{}]`, false, 2},
	{"{}\n\n,", false, 4},
	{`{}"`, false, 2},
	{`{}` + "\x00", false, 2},
	{`{"jobs":[]}}`, false, 11},
	{`[] []`, false, 3},
	{`1 2`, false, 2},
	{`"a""b"`, false, 3},
}

func TestDecodeSingleValue(t *testing.T) {
	t.Parallel()
	for _, c := range singleCases {
		var v any
		err := Decode([]byte(c.body), &v)
		if (err == nil) != c.ok {
			t.Errorf("Decode(%q) = %v, want ok=%v", c.body, err, c.ok)
		}
		var te *TrailingDataError
		if c.trailingAt >= 0 {
			if !errors.As(err, &te) || te.Offset != c.trailingAt {
				t.Errorf("Decode(%q) = %v, want trailing data at byte %d", c.body, err, c.trailingAt)
			}
		} else if errors.As(err, &te) {
			t.Errorf("Decode(%q) = %v, want no trailing data error", c.body, err)
		}
	}
}

func TestDecodeRejectsUnknownFields(t *testing.T) {
	t.Parallel()
	var v struct {
		A int `json:"a"`
	}
	if err := Decode([]byte(`{"a":1,"b":2}`), &v); err == nil {
		t.Fatal("unknown field accepted")
	}
	if err := Decode([]byte(`{"a":1}  `), &v); err != nil || v.A != 1 {
		t.Fatalf("Decode = %v, %+v", err, v)
	}
}

func TestCheckEndOffsets(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		body   string
		offset int64
		ok     bool
	}{
		{"{}", 2, true},
		{"{}  ", 2, true},
		{"{} x", 2, false},
		{"{}", 3, false}, // out of range: a caller's bug, never accepted
		{"{}", -1, false},
	} {
		if err := CheckEnd([]byte(c.body), c.offset); (err == nil) != c.ok {
			t.Errorf("CheckEnd(%q, %d) = %v", c.body, c.offset, err)
		}
	}
}

// FuzzDecodeSingleValue checks Decode against json.Valid: a body decodes
// into an any exactly when it is one valid JSON value, and when the first
// value is well-formed but more follows, the error is a *TrailingDataError.
func FuzzDecodeSingleValue(f *testing.F) {
	for _, c := range singleCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v any
		err := Decode(body, &v)
		if valid := json.Valid(body); valid != (err == nil) {
			t.Fatalf("Decode(%q) = %v, json.Valid = %v", body, err, valid)
		}
		var te *TrailingDataError
		if errors.As(err, &te) {
			if te.Offset <= 0 || te.Offset >= int64(len(body)) || isSpace(body[te.Offset]) {
				t.Fatalf("Decode(%q): trailing data at %d", body, te.Offset)
			}
			var first any
			if json.Unmarshal(body[:te.Offset], &first) != nil {
				t.Fatalf("Decode(%q): the part before byte %d is not one value", body, te.Offset)
			}
		}
	})
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
