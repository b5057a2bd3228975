package main

import (
	"reflect"
	"testing"
)

// TestParseTable reads back this version's table and an older one's
// (five columns, empty floor cells), leaving out rows without a number.
func TestParseTable(t *testing.T) {
	out := `# JobWeaver bench at abc
bench: starting…

scenario    metric                                   measured     floor           verdict  load (1 min)
--------    ------                                   --------     -----           -------  ------------
throughput  submit rate, batch of 100                1855 jobs/s  -               -        14.73
latency     submit→completed p99 @ 500/s, 20s        62.5 ms      ≤ 70.0 ms       meets    1.2
io          end-to-end, SLEEP, median of 3           3,120 jobs/s (0.93× no-op)  ≥ 0.9× no-op  meets  2
soak        after the drain: dead rows by database   api 3 (most: jobs 3)  -  -  1
`
	old := `scenario    metric                          measured    floor          verdict
--------    ------                          --------    -----          -------
throughput  submit rate, batch of 100       3893 jobs/s
fairness    fresh-job wait p99 (50000 retries due)  141.0 ms  ≤ 1000 ms  meets
`
	for _, c := range []struct {
		name string
		in   string
		want []measure
	}{
		{"this version", out, []measure{
			{key: "throughput\x00submit rate, batch of 100", scenario: "throughput", metric: "submit rate, batch of 100", value: 1855, unit: "jobs/s"},
			{key: "latency\x00submit→completed p99 @ 500/s, 20s", scenario: "latency", metric: "submit→completed p99 @ 500/s, 20s", value: 62.5, unit: "ms"},
			{key: "io\x00end-to-end, SLEEP, median of 3", scenario: "io", metric: "end-to-end, SLEEP, median of 3", value: 3120, unit: "jobs/s"},
		}},
		{"older version", old, []measure{
			{key: "throughput\x00submit rate, batch of 100", scenario: "throughput", metric: "submit rate, batch of 100", value: 3893, unit: "jobs/s"},
			{key: "fairness\x00fresh-job wait p99 (50000 retries due)", scenario: "fairness", metric: "fresh-job wait p99 (50000 retries due)", value: 141, unit: "ms"},
		}},
		{"no table", "bench: io: failed\n", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := parseTable(c.in); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("parseTable:\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestStripFlags(t *testing.T) {
	for _, c := range []struct {
		in, want []string
	}{
		{[]string{"-compare", "main", "-rounds", "3", "-scenarios", "latency"}, []string{"-scenarios", "latency"}},
		{[]string{"--compare=HEAD~1", "-rounds=2", "-rate", "2000"}, []string{"-rate", "2000"}},
		{[]string{"-scenarios=io"}, []string{"-scenarios=io"}},
		{nil, nil},
	} {
		if got := stripFlags(c.in, "compare", "rounds"); !reflect.DeepEqual(got, c.want) {
			t.Errorf("stripFlags(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if !hasFlag([]string{"-x", "--database-url=postgres://h"}, "database-url") || hasFlag([]string{"database-url"}, "database-url") {
		t.Error("hasFlag: wrong answer for --database-url= or a bare word")
	}
}

func TestBetterSide(t *testing.T) {
	for _, c := range []struct {
		unit string
		a, b float64
		want string
	}{
		{"jobs/s", 2000, 1000, "this"},
		{"jobs/s", 1000, 2000, "other"},
		{"ms", 50, 100, "this"},
		{"ms", 100, 50, "other"},
		{"ms", 100, 101, "same"},
		{"×", 1.2, 1, "-"},
	} {
		if got := betterSide(c.unit, c.a, c.b); got != c.want {
			t.Errorf("betterSide(%q, %v, %v) = %q, want %q", c.unit, c.a, c.b, got, c.want)
		}
	}
}
