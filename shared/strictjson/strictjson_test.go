package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestCheckKeys(t *testing.T) {
	t.Parallel()
	type job struct {
		JobType string `json:"jobType"`
		Retries int    `json:"maxRetryCount,omitempty"`
		Skip    string `json:"-"`
		Plain   int
		hidden  int //lint:ignore U1000 an unexported field, which Fields must leave out
	}
	names := Fields(&job{})
	if len(names) != 3 || !names["jobType"] || !names["maxRetryCount"] || !names["Plain"] {
		t.Fatalf("Fields = %v", names)
	}
	for _, c := range []struct {
		raw, want string
	}{
		{`{"jobType":"SIMULATION","maxRetryCount":3,"Plain":1}`, ""},
		{`{}`, ""},
		{`[1,2]`, ""},       // not an object: the decoder's business
		{`{"jobType":`, ""}, // malformed: the decoder's business
		{`{"JOBTYPE":"SIMULATION"}`, `"JOBTYPE" is not a field; field names are case-sensitive: "jobType"`},
		{`{"jobType":"A","maxRetryCount":{"nested":[1,{"x":2}]},"jobType":"B"}`, `"jobType" appears more than once`},
		{`{"colour":1}`, `"colour" is not a field`},
	} {
		err := CheckKeys([]byte(c.raw), names)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("CheckKeys(%s) = %q, want %q", c.raw, got, c.want)
		}
	}
}

// reference is CheckKeys written with encoding/json's tokenizer: slower,
// obviously right for valid JSON.
func reference(raw []byte, names map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := t.(string)
		if seen[key] {
			return &KeyError{Key: key, Duplicate: true}
		}
		seen[key] = true
		if !names[key] {
			e := &KeyError{Key: key}
			for n := range names {
				if strings.EqualFold(n, key) {
					e.Want = n
				}
			}
			return e
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}

// FuzzCheckKeys: on valid JSON, CheckKeys says what the tokenizer-based
// reference says; on anything, it does not panic.
func FuzzCheckKeys(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"A":1,"a":2}`, `{"a":[{"a":1}],"b":"}"}`, `[]`, `{`, `"x"`,
		`{"a":"\"}","b":{"a":[1,"]"]},"a":true}`, `{"\u0061":1,"a":2}`, ` { "b" : null , "c" : -1e5 } `} {
		f.Add(s)
	}
	names := map[string]bool{"a": true, "b": true}
	f.Fuzz(func(t *testing.T, raw string) {
		got := CheckKeys([]byte(raw), names)
		if !json.Valid([]byte(raw)) {
			return
		}
		if want := reference([]byte(raw), names); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("CheckKeys(%s) = %v, want %v", raw, got, want)
		}
	})
}

func TestValue(t *testing.T) {
	t.Parallel()
	raw := []byte(` {"a" : [1, {"x":"}"}] , "Payload":1, "payload" : {"steps":[]} , "z":null}`)
	for key, want := range map[string]string{"a": `[1, {"x":"}"}]`, "payload": `{"steps":[]}`, "z": "null", "q": ""} {
		if got := string(Value(raw, key)); got != want {
			t.Errorf("Value(%q) = %q, want %q", key, got, want)
		}
	}
}

func BenchmarkCheckKeys(b *testing.B) {
	raw := []byte(`{"action":"HTTP_CALL","url":"https://example.com/x?y=1","method":"POST","timeoutMs":30000}`)
	names := map[string]bool{"action": true, "url": true, "method": true, "timeoutMs": true, "latencyMs": true}
	b.ReportAllocs()
	for b.Loop() {
		if CheckKeys(raw, names) != nil {
			b.Fatal("rejected")
		}
	}
}
