package metricstest

import (
	"fmt"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	head := func(dims, metrics string) string {
		return `{"_aws":{"Timestamp":1790000000000,"CloudWatchMetrics":[{"Namespace":"JobWeaver","Dimensions":` + dims + `,"Metrics":` + metrics + `}]}`
	}
	many := func(n int, f func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = f(i)
		}
		return strings.Join(parts, ",")
	}
	cases := []struct {
		name, doc, err string
	}{
		{"valid", head(`[["Service"],["Service","JobType"]]`, `[{"Name":"N","Unit":"Count"}]`) + `,"Service":"worker","JobType":"SIM","N":[1,2.5]}`, ""},
		{"valid without unit or dimensions", head(`[]`, `[{"Name":"N"}]`) + `,"N":1}`, ""},
		{"not JSON", `{"_aws":`, "not a JSON object"},
		{"no _aws", `{"N":1}`, "no _aws object"},
		{"timestamp as string", `{"_aws":{"Timestamp":"1","CloudWatchMetrics":[]}}`, "Timestamp is not a number"},
		{"timestamp in seconds as a fraction", `{"_aws":{"Timestamp":1.5,"CloudWatchMetrics":[]}}`, "epoch milliseconds"},
		{"no directives", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]}}`, "non-empty array"},
		{"no namespace", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Dimensions":[],"Metrics":[{"Name":"N"}]}]},"N":1}`, "Namespace"},
		{"dimension missing", head(`[["Service"]]`, `[{"Name":"N"}]`) + `,"N":1}`, `dimension "Service" has no string member`},
		{"dimension not a string", head(`[["Service"]]`, `[{"Name":"N"}]`) + `,"Service":3,"N":1}`, `dimension "Service" has no string member`},
		{"dimension blank", head(`[["Service"]]`, `[{"Name":"N"}]`) + `,"Service":" ","N":1}`, `has the value`},
		{"metric missing", head(`[]`, `[{"Name":"N"}]`) + `}`, `metric "N": no top-level member`},
		{"metric a string", head(`[]`, `[{"Name":"N"}]`) + `,"N":"1"}`, "neither a number"},
		{"metric array of strings", head(`[]`, `[{"Name":"N"}]`) + `,"N":["1"]}`, "not a number"},
		{"empty array", head(`[]`, `[{"Name":"N"}]`) + `,"N":[]}`, "an array of 0 values"},
		{"101 values", head(`[]`, `[{"Name":"N"}]`) + `,"N":[` + many(101, func(int) string { return "1" }) + `]}`, "an array of 101 values"},
		{"bad unit", head(`[]`, `[{"Name":"N","Unit":"Furlongs"}]`) + `,"N":1}`, "not a CloudWatch unit"},
		{"101 metrics", head(`[]`, `[`+many(101, func(i int) string { return fmt.Sprintf(`{"Name":"M%d"}`, i) })+`]`) + `}`, "1 to 100 definitions"},
		{"metric twice", head(`[]`, `[{"Name":"N"},{"Name":"N"}]`) + `,"N":1}`, "defined twice"},
		{"bad storage resolution", head(`[]`, `[{"Name":"N","StorageResolution":5}]`) + `,"N":1}`, "StorageResolution"},
		{"two values on a line", head(`[]`, `[{"Name":"N"}]`) + `,"N":1} {}`, "more than one JSON value"},
	}
	for _, tc := range cases {
		err := Validate([]byte(tc.doc))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: err = %v, want it to say %q", tc.name, err, tc.err)
		}
	}
}

func TestSeriesPerDimensionSet(t *testing.T) {
	out := `{"_aws":{"Timestamp":1790000000000,"CloudWatchMetrics":[{"Namespace":"JobWeaver","Dimensions":[["Service"],["Service","JobType"]],"Metrics":[{"Name":"N","Unit":"Count"}]}]},"Service":"w","JobType":"A","N":2}

{"_aws":{"Timestamp":1790000000000,"CloudWatchMetrics":[{"Namespace":"JobWeaver","Dimensions":[["Service"],["Service","JobType"]],"Metrics":[{"Name":"N","Unit":"Count"}]}]},"Service":"w","JobType":"B","N":[3,4]}
`
	r := Parse(t, []byte(out))
	if got := r.Sum("N", "Service", "w"); got != 9 {
		t.Fatalf("service total = %v", got)
	}
	if got := r.Sum("N", "Service", "w", "JobType", "B"); got != 7 {
		t.Fatalf("B = %v", got)
	}
	if r.Get("N", "JobType", "A") != nil {
		t.Fatal("a dimension set no document declares was published")
	}
	if m, ok := r.Max("N", "Service", "w"); !ok || m != 4 {
		t.Fatalf("max = %v %v", m, ok)
	}
	if got := strings.Join(r.Names(), ","); got != "N" || len(r.Series()) != 3 || len(r.Docs) != 2 {
		t.Fatalf("names %s, %d series, %d docs", got, len(r.Series()), len(r.Docs))
	}
}

func TestParseLogSkipsLogLines(t *testing.T) {
	out := `{"level":"INFO","msg":"not a metric"}
START RequestId: 1 Version: $LATEST
{"_aws":{"Timestamp":1790000000000,"CloudWatchMetrics":[{"Namespace":"JobWeaver","Dimensions":[["Service"],["Service","JobType"]],"Metrics":[{"Name":"N","Unit":"Count"}]}]},"Service":"w","JobType":"A","N":2}
[1,2]
`
	r := ParseLog(t, []byte(out))
	if r.Skipped != 3 || len(r.Docs) != 1 {
		t.Fatalf("skipped %d, %d docs", r.Skipped, len(r.Docs))
	}
	if s := r.Lookup("JobWeaver", "N", map[string]string{"Service": "w", "JobType": "A"}); s == nil || s.Unit != "Count" || len(s.Values) != 1 {
		t.Fatalf("Lookup {Service,JobType} = %+v", s)
	}
	if r.Lookup("JobWeaver", "N", map[string]string{"Service": "w"}) == nil || r.Lookup("JobWeaver", "N", nil) != nil {
		t.Fatal("Lookup matched dimension sets inexactly")
	}
	// A document with _aws must still be valid EMF.
	bad := `{"_aws":{"Timestamp":1790000000000,"CloudWatchMetrics":[{"Namespace":"JobWeaver","Dimensions":[["Service"]],"Metrics":[{"Name":"N"}]}]},"N":1}`
	if _, err := ParseLogBytes([]byte(bad)); err == nil || !strings.Contains(err.Error(), `dimension "Service"`) {
		t.Fatalf("invalid EMF in a log: err = %v", err)
	}
}
