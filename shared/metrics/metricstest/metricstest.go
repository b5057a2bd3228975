// Package metricstest reads Embedded Metric Format output the way
// CloudWatch Logs does, for tests: it checks every document against the
// EMF specification and collects the data points each dimension set of
// each document publishes.
package metricstest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
)

// cloudWatchUnits are the units CloudWatch accepts. Kept apart from
// package metrics on purpose: the check must not trust the code it checks.
var cloudWatchUnits = []string{
	"Seconds", "Microseconds", "Milliseconds",
	"Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
	"Percent", "Count",
	"Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
	"Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
	"Count/Second", "None",
}

// Limits from the EMF specification and CloudWatch Logs.
const (
	maxMetrics        = 100
	maxValues         = 100
	maxDimensionsSet  = 30
	maxEventBytes     = 256*1024 - 26 // a log event, less its overhead
	maxNameLen        = 1024
	maxDimensionValue = 1024
)

// Series is the data points of one metric under one set of dimension
// values, as CloudWatch stores them.
type Series struct {
	Namespace string
	Name      string
	Unit      string
	Dims      map[string]string
	Values    []float64
}

// Result is what a run of output published.
type Result struct {
	Docs []map[string]any
	// Skipped counts the lines ParseLog took for ordinary log lines.
	Skipped int
	series  map[string]*Series
}

// Parse checks every line of out as an EMF document (blank lines are
// skipped) and fails tb on the first problem.
func Parse(tb testing.TB, out []byte) *Result {
	tb.Helper()
	r, err := ParseBytes(out)
	if err != nil {
		tb.Fatalf("invalid EMF output: %v\n%s", err, out)
	}
	return r
}

// ParseBytes is Parse returning the error.
func ParseBytes(out []byte) (*Result, error) { return parse(out, false) }

// ParseLog reads out as CloudWatch Logs reads a function's log stream:
// a line that is a JSON object with an _aws member is an EMF document and
// must be valid (tb fails on the first invalid one); any other line is an
// ordinary log line and is skipped. Result.Skipped counts those lines.
func ParseLog(tb testing.TB, out []byte) *Result {
	tb.Helper()
	r, err := ParseLogBytes(out)
	if err != nil {
		tb.Fatalf("invalid EMF document in the log: %v", err)
	}
	return r
}

// ParseLogBytes is ParseLog returning the error.
func ParseLogBytes(out []byte) (*Result, error) { return parse(out, true) }

// parse reads out a line at a time; with logLines, lines that are not EMF
// documents are counted in Skipped, else they are errors.
func parse(out []byte, logLines bool) (*Result, error) {
	r := &Result{series: map[string]*Series{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if logLines {
			var probe map[string]json.RawMessage
			if json.Unmarshal(line, &probe) != nil || probe["_aws"] == nil {
				r.Skipped++
				continue
			}
		}
		if err := r.add(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	return r, sc.Err()
}

// Validate checks one EMF document.
func Validate(doc []byte) error {
	return (&Result{series: map[string]*Series{}}).add(doc)
}

func (r *Result) add(line []byte) error {
	if len(line) > maxEventBytes {
		return fmt.Errorf("document of %d bytes exceeds a log event", len(line))
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value on the line")
	}
	aws, ok := doc["_aws"].(map[string]any)
	if !ok {
		return fmt.Errorf("no _aws object")
	}
	ts, ok := aws["Timestamp"].(json.Number)
	if !ok {
		return fmt.Errorf("_aws.Timestamp is not a number")
	}
	if ms, err := ts.Int64(); err != nil || ms <= 0 {
		return fmt.Errorf("_aws.Timestamp %s is not epoch milliseconds", ts)
	}
	directives, ok := aws["CloudWatchMetrics"].([]any)
	if !ok || len(directives) == 0 {
		return fmt.Errorf("_aws.CloudWatchMetrics is not a non-empty array")
	}
	for i, d := range directives {
		if err := r.directive(doc, d); err != nil {
			return fmt.Errorf("CloudWatchMetrics[%d]: %w", i, err)
		}
	}
	r.Docs = append(r.Docs, doc)
	return nil
}

func (r *Result) directive(doc map[string]any, d any) error {
	dir, ok := d.(map[string]any)
	if !ok {
		return fmt.Errorf("not an object")
	}
	ns, ok := dir["Namespace"].(string)
	if !ok || ns == "" || len(ns) > maxNameLen {
		return fmt.Errorf("Namespace %v is not a non-empty string", dir["Namespace"])
	}
	rawSets, ok := dir["Dimensions"].([]any)
	if !ok {
		return fmt.Errorf("Dimensions is not an array")
	}
	var sets [][]string
	for i, rs := range rawSets {
		list, ok := rs.([]any)
		if !ok || len(list) > maxDimensionsSet {
			return fmt.Errorf("Dimensions[%d] is not an array of at most %d names", i, maxDimensionsSet)
		}
		var set []string
		for _, n := range list {
			name, ok := n.(string)
			if !ok || name == "" {
				return fmt.Errorf("Dimensions[%d] holds %v, not a name", i, n)
			}
			v, ok := doc[name].(string)
			if !ok {
				return fmt.Errorf("dimension %q has no string member at the top level (got %v)", name, doc[name])
			}
			if strings.TrimSpace(v) == "" || len(v) > maxDimensionValue {
				return fmt.Errorf("dimension %q has the value %q", name, v)
			}
			if slices.Contains(set, name) {
				return fmt.Errorf("Dimensions[%d] names %q twice", i, name)
			}
			set = append(set, name)
		}
		sets = append(sets, set)
	}
	metrics, ok := dir["Metrics"].([]any)
	if !ok || len(metrics) == 0 || len(metrics) > maxMetrics {
		return fmt.Errorf("Metrics is not an array of 1 to %d definitions", maxMetrics)
	}
	seen := map[string]bool{}
	for i, m := range metrics {
		def, ok := m.(map[string]any)
		if !ok {
			return fmt.Errorf("Metrics[%d] is not an object", i)
		}
		name, ok := def["Name"].(string)
		if !ok || name == "" || len(name) > maxNameLen {
			return fmt.Errorf("Metrics[%d].Name is not a non-empty string", i)
		}
		if seen[name] {
			return fmt.Errorf("metric %q is defined twice", name)
		}
		seen[name] = true
		unit := "None"
		if u, present := def["Unit"]; present {
			s, ok := u.(string)
			if !ok || !slices.Contains(cloudWatchUnits, s) {
				return fmt.Errorf("metric %q has the unit %v, not a CloudWatch unit", name, u)
			}
			unit = s
		}
		if sr, present := def["StorageResolution"]; present {
			if n, ok := sr.(json.Number); !ok || (n.String() != "1" && n.String() != "60") {
				return fmt.Errorf("metric %q has StorageResolution %v", name, sr)
			}
		}
		vals, err := values(doc[name])
		if err != nil {
			return fmt.Errorf("metric %q: %w", name, err)
		}
		for _, set := range sets {
			dims := make(map[string]string, len(set))
			for _, n := range set {
				dims[n] = doc[n].(string)
			}
			k := key(ns, name, dims)
			s := r.series[k]
			if s == nil {
				s = &Series{Namespace: ns, Name: name, Unit: unit, Dims: dims}
				r.series[k] = s
			}
			if s.Unit != unit {
				return fmt.Errorf("metric %q has the units %s and %s", name, s.Unit, unit)
			}
			s.Values = append(s.Values, vals...)
		}
	}
	return nil
}

// values reads a metric member: a number or an array of 1 to 100 numbers.
func values(v any) ([]float64, error) {
	num := func(x any) (float64, error) {
		n, ok := x.(json.Number)
		if !ok {
			return 0, fmt.Errorf("value %v is not a number", x)
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, fmt.Errorf("value %v is not a finite number", x)
		}
		return f, nil
	}
	switch x := v.(type) {
	case json.Number:
		f, err := num(x)
		return []float64{f}, err
	case []any:
		if len(x) == 0 || len(x) > maxValues {
			return nil, fmt.Errorf("an array of %d values (1 to %d allowed)", len(x), maxValues)
		}
		out := make([]float64, len(x))
		for i, e := range x {
			f, err := num(e)
			if err != nil {
				return nil, err
			}
			out[i] = f
		}
		return out, nil
	case nil:
		return nil, fmt.Errorf("no top-level member")
	}
	return nil, fmt.Errorf("member %v is neither a number nor an array of numbers", v)
}

func key(ns, name string, dims map[string]string) string {
	names := make([]string, 0, len(dims))
	for n := range dims {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(ns + "|" + name)
	for _, n := range names {
		b.WriteString("|" + n + "=" + dims[n])
	}
	return b.String()
}

// Get returns the series of metric name in namespace metrics.Namespace
// under exactly the dimensions dims (name, value, name, value, ...), or
// nil if none was published.
func (r *Result) Get(name string, dims ...string) *Series {
	return r.GetIn("JobWeaver", name, dims...)
}

// GetIn is Get in another namespace.
func (r *Result) GetIn(ns, name string, dims ...string) *Series {
	m := map[string]string{}
	for i := 0; i+1 < len(dims); i += 2 {
		m[dims[i]] = dims[i+1]
	}
	return r.series[key(ns, name, m)]
}

// Lookup returns the series of metric name in namespace ns under exactly
// the dimensions dims (nil or empty: none), or nil if none was published.
func (r *Result) Lookup(ns, name string, dims map[string]string) *Series {
	return r.series[key(ns, name, dims)]
}

// Values returns the data points of Get (nil if none).
func (r *Result) Values(name string, dims ...string) []float64 {
	if s := r.Get(name, dims...); s != nil {
		return s.Values
	}
	return nil
}

// Sum returns the sum of the data points of Get (0 if none).
func (r *Result) Sum(name string, dims ...string) float64 {
	var t float64
	for _, v := range r.Values(name, dims...) {
		t += v
	}
	return t
}

// Max returns the largest data point of Get, and false if there is none.
func (r *Result) Max(name string, dims ...string) (float64, bool) {
	vals := r.Values(name, dims...)
	if len(vals) == 0 {
		return 0, false
	}
	return slices.Max(vals), true
}

// Series returns every series published, sorted by name and dimensions.
func (r *Result) Series() []*Series {
	keys := make([]string, 0, len(r.series))
	for k := range r.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*Series, len(keys))
	for i, k := range keys {
		out[i] = r.series[k]
	}
	return out
}

// Names returns the names of the metrics published, sorted, each once.
func (r *Result) Names() []string {
	var out []string
	for _, s := range r.series {
		if !slices.Contains(out, s.Name) {
			out = append(out, s.Name)
		}
	}
	sort.Strings(out)
	return out
}
