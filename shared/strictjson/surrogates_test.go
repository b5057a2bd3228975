package strictjson

import "testing"

func TestCheckSurrogates(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		raw string
		ok  bool
	}{
		{`{"a":"plain"}`, true},
		{`"\ud83d\ude00"`, true},
		{`"\uD83D\uDE00 and \u00e9"`, true},
		{`"\\ud800"`, true}, // an escaped backslash: text
		{`"\ud800"`, false},
		{`"\ud800x"`, false},
		{`"\ud800\u0041"`, false},
		{`"\udc00"`, false},
		{`"\ude00\ud83d"`, false},
		{`["ok", "\ud83d"]`, false},
		{`"\ud83d\ude00\ud800"`, false},
	} {
		if err := CheckSurrogates([]byte(c.raw)); (err == nil) != c.ok {
			t.Errorf("CheckSurrogates(%s) = %v, want ok %v", c.raw, err, c.ok)
		}
	}
}
