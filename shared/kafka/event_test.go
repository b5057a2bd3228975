package kafka

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// DecodeEvent must agree with encoding/json on everything.
func checkSame(t *testing.T, payload []byte) {
	t.Helper()
	var want events.KafkaEvent
	wantErr := json.Unmarshal(payload, &want)
	got, err := DecodeEvent(payload)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("DecodeEvent error %v, encoding/json error %v, for %q", err, wantErr, payload)
	}
	if err != nil {
		return
	}
	// Compare through JSON: nil and empty header slices encode alike.
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	if string(a) != string(b) {
		t.Fatalf("DecodeEvent = %s\nencoding/json = %s", a, b)
	}
}

func TestDecodeEventMatchesEncodingJSON(t *testing.T) {
	files, _ := filepath.Glob("../../events/*/*.json")
	cases := []string{
		`{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","partition":0,"offset":1,"timestamp":1,"timestampType":"CREATE_TIME","value":"e30=","headers":[{"a":[104,-1,0,255]},{"b":[]}]}]}}`,
		`{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","headers":[ {"a" : [ 1 , 2 ]} ]}]}}`,
		`{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","headers":[{"a\u0041":[1]}]}]}}`,
		`{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","headers":null}]}}`,
		`{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","headers":[{"a":[300]}]}]}}`,
		`{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","headers":[{"a":[1.5]}]}]}}`,
		`{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","headers":[{"a":"aGk="}]}]}}`,
		`{"eventSource":"aws:kafka","records":{}}`,
		`{"eventSource":"aws:kafka"}`,
		`[]`,
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		checkSame(t, []byte(c))
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"eventSource":"aws:kafka","records":{"t-0":[{"topic":"t","headers":[{"a":[104,-1,0]}]}]}}`))
	f.Add([]byte(`{"records":{"t-0":[{"headers":[{"a":[1],"b":[2,3]},{}]}]}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var want events.KafkaEvent
		wantErr := json.Unmarshal(payload, &want)
		got, err := DecodeEvent(payload)
		if wantErr == nil && err != nil {
			t.Fatalf("DecodeEvent failed where encoding/json did not: %v", err)
		}
		if err == nil && wantErr == nil && !reflect.DeepEqual(headerBytes(got), headerBytes(want)) {
			t.Fatalf("headers differ: %v vs %v", headerBytes(got), headerBytes(want))
		}
	})
}

func headerBytes(ev events.KafkaEvent) map[string][][]map[string]string {
	out := map[string][][]map[string]string{}
	for k, rs := range ev.Records {
		for _, r := range rs {
			var hs []map[string]string
			for _, h := range r.Headers {
				m := map[string]string{}
				for n, v := range h {
					m[n] = string(v)
				}
				hs = append(hs, m)
			}
			out[k] = append(out[k], hs)
		}
	}
	return out
}
