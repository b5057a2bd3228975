package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/metrics/metricstest"
)

func fixedClock(e *Emitter, t time.Time) *time.Time {
	now := t
	e.now = func() time.Time { return now }
	return &now
}

func TestDocumentShape(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	e := New(&buf, "worker")
	fixedClock(e, time.UnixMilli(1_790_000_000_123))
	sim := Dim("JobType", "SIMULATION")
	e.Count("AttemptsSucceeded", 1, sim)
	e.Count("AttemptsSucceeded", 2, sim)
	e.Value("ExecutionDuration", 12, Milliseconds, sim)
	e.Value("ExecutionDuration", 3.5, Milliseconds, sim)
	e.Value("BatchSize", 3, Count)
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `{"_aws":{"Timestamp":1790000000123,"CloudWatchMetrics":[{"Namespace":"JobWeaver","Dimensions":[["Service"]],"Metrics":[{"Name":"BatchSize","Unit":"Count"}]}]},"Service":"worker","BatchSize":3}
{"_aws":{"Timestamp":1790000000123,"CloudWatchMetrics":[{"Namespace":"JobWeaver","Dimensions":[["Service"],["Service","JobType"]],"Metrics":[{"Name":"AttemptsSucceeded","Unit":"Count"},{"Name":"ExecutionDuration","Unit":"Milliseconds"}]}]},"Service":"worker","JobType":"SIMULATION","AttemptsSucceeded":3,"ExecutionDuration":[12,3.5]}
`
	if got := buf.String(); got != want {
		t.Fatalf("output:\n%s\nwant:\n%s", got, want)
	}
	metricstest.Parse(t, buf.Bytes())

	// Flushed: a second flush writes nothing.
	buf.Reset()
	if err := e.Flush(); err != nil || buf.Len() != 0 {
		t.Fatalf("second flush wrote %q (err %v)", buf.String(), err)
	}
}

type op func(e *Emitter)

func TestAggregation(t *testing.T) {
	t.Parallel()
	sim, batch := Dim("JobType", "SIMULATION"), Dim("JobType", "BATCH")
	type want struct {
		name string
		dims []string // besides Service=svc
		vals []float64
		unit string
	}
	cases := []struct {
		name   string
		ops    []op
		want   []want
		absent [][]string // name, dims...
	}{
		{
			name: "counts add up",
			ops:  []op{func(e *Emitter) { e.Count("JobsDispatched", 2); e.Count("JobsDispatched", 5) }},
			want: []want{{"JobsDispatched", nil, []float64{7}, "Count"}},
		},
		{
			name: "values are kept in order",
			ops: []op{func(e *Emitter) {
				e.Value("DispatchLatency", 5, Milliseconds)
				e.Value("DispatchLatency", 1, Milliseconds)
			}},
			want: []want{{"DispatchLatency", nil, []float64{5, 1}, "Milliseconds"}},
		},
		{
			name: "a gauge keeps the largest level",
			ops: []op{func(e *Emitter) {
				e.Gauge("DueBacklog", 3, Count)
				e.Gauge("DueBacklog", 9, Count)
				e.Gauge("DueBacklog", 0, Count)
			}},
			want: []want{{"DueBacklog", nil, []float64{9}, "Count"}},
		},
		{
			name: "job types roll up into the service",
			ops: []op{func(e *Emitter) {
				e.Count("JobsCompleted", 2, sim)
				e.Count("JobsCompleted", 3, batch)
				e.Value("ExecutionDuration", 10, Milliseconds, sim)
				e.Value("ExecutionDuration", 20, Milliseconds, batch)
			}},
			want: []want{
				{"JobsCompleted", []string{"JobType", "SIMULATION"}, []float64{2}, "Count"},
				{"JobsCompleted", []string{"JobType", "BATCH"}, []float64{3}, "Count"},
				{"JobsCompleted", nil, []float64{3, 2}, "Count"}, // BATCH's document sorts first
				{"ExecutionDuration", nil, []float64{20, 10}, "Milliseconds"},
			},
		},
		{
			name: "an empty dimension value counts only for the service",
			ops: []op{func(e *Emitter) {
				e.Count("DeadLettersStored", 1, Dim("JobType", ""))
				e.Count("DeadLettersStored", 1, sim)
			}},
			want: []want{
				{"DeadLettersStored", nil, []float64{1, 1}, "Count"},
				{"DeadLettersStored", []string{"JobType", "SIMULATION"}, []float64{1}, "Count"},
			},
		},
		{
			name: "dimension values are made safe",
			ops:  []op{func(e *Emitter) { e.Count("JobsSubmitted", 1, Dim("JobType", " caf\u00e9\n")) }},
			want: []want{{"JobsSubmitted", []string{"JobType", "caf___"}, []float64{1}, "Count"}},
		},
		{
			name: "dimensions are sorted and repeats, Service and empty names ignored",
			ops: []op{func(e *Emitter) {
				e.Count("X", 1, Dim("Z", "z"), Dim("A", "a"), Dim("A", "again"), Dim("Service", "other"), Dim("", "v"))
			}},
			want: []want{{"X", []string{"A", "a", "Z", "z"}, []float64{1}, "Count"}, {"X", nil, []float64{1}, "Count"}},
		},
		{
			name: "NaN, infinities and bad names are dropped",
			ops: []op{func(e *Emitter) {
				e.Value("V", math.NaN(), None)
				e.Value("V", math.Inf(1), None)
				e.Count("", 1)
				e.Count("Service", 1)
				e.Count("_aws", 1)
				e.Count("a b", 1)
				e.Count("JobType", 1, sim)
			}},
			absent: [][]string{{"V"}, {"Service"}, {"_aws"}, {"a b"}, {"JobType", "JobType", "SIMULATION"}},
		},
		{
			name: "an unknown unit becomes None",
			ops:  []op{func(e *Emitter) { e.Value("V", 1, Unit("Furlongs")) }},
			want: []want{{"V", nil, []float64{1}, "None"}},
		},
		{
			name: "zero counts are published",
			ops:  []op{func(e *Emitter) { e.Count("JobsFailed", 0, sim) }},
			want: []want{{"JobsFailed", []string{"JobType", "SIMULATION"}, []float64{0}, "Count"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			e := New(&buf, "svc")
			for _, o := range tc.ops {
				o(e)
			}
			if err := e.Flush(); err != nil {
				t.Fatal(err)
			}
			r := metricstest.Parse(t, buf.Bytes())
			for _, w := range tc.want {
				s := r.Get(w.name, append([]string{"Service", "svc"}, w.dims...)...)
				if s == nil {
					t.Fatalf("%s %v: not published; output:\n%s", w.name, w.dims, buf.String())
				}
				if !slices.Equal(s.Values, w.vals) || s.Unit != w.unit {
					t.Fatalf("%s %v = %v %s, want %v %s", w.name, w.dims, s.Values, s.Unit, w.vals, w.unit)
				}
			}
			for _, a := range tc.absent {
				if s := r.Get(a[0], append([]string{"Service", "svc"}, a[1:]...)...); s != nil {
					t.Fatalf("%v published: %+v", a, s)
				}
			}
		})
	}
}

func TestManyValuesSplitIntoDocuments(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	e := New(&buf, "scheduler")
	sim := Dim("JobType", "SIMULATION")
	want := 0.0
	for i := range 250 {
		e.Value("DispatchLatency", float64(i), Milliseconds, sim)
		want += float64(i)
	}
	e.Count("JobsDispatched", 250, sim)
	e.Value("FreshJobWait", 7, Milliseconds, sim)
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	r := metricstest.Parse(t, buf.Bytes())
	if len(r.Docs) != 3 {
		t.Fatalf("%d documents, want 3:\n%s", len(r.Docs), buf.String())
	}
	for _, dims := range [][]string{{"Service", "scheduler"}, {"Service", "scheduler", "JobType", "SIMULATION"}} {
		vals := r.Values("DispatchLatency", dims...)
		if len(vals) != 250 || r.Sum("DispatchLatency", dims...) != want {
			t.Fatalf("%v: %d latency values summing to %v", dims, len(vals), r.Sum("DispatchLatency", dims...))
		}
		if got := r.Values("JobsDispatched", dims...); !slices.Equal(got, []float64{250}) {
			t.Fatalf("%v: JobsDispatched = %v (a counter must be written once)", dims, got)
		}
		if got := r.Values("FreshJobWait", dims...); !slices.Equal(got, []float64{7}) {
			t.Fatalf("%v: FreshJobWait = %v", dims, got)
		}
	}
}

func TestManyMetricsSplitIntoDocuments(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	e := New(&buf, "svc")
	for i := range 230 {
		e.Count(fmt.Sprintf("M%03d", i), i)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	r := metricstest.Parse(t, buf.Bytes())
	if len(r.Docs) != 3 {
		t.Fatalf("%d documents, want 3", len(r.Docs))
	}
	for i := range 230 {
		if got := r.Values(fmt.Sprintf("M%03d", i), "Service", "svc"); !slices.Equal(got, []float64{float64(i)}) {
			t.Fatalf("M%03d = %v", i, got)
		}
	}
}

// TestRandomOutputIsValid records a random mix and checks that every
// document is valid EMF and that nothing is lost or counted twice.
func TestRandomOutputIsValid(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(1, 2))
	var buf bytes.Buffer
	e := New(&buf, "worker")
	type sums struct{ n, total float64 }
	want := map[string]*sums{}
	for range 5000 {
		name := fmt.Sprintf("Metric%d", rnd.IntN(130))
		jt := fmt.Sprintf("T%d", rnd.IntN(4))
		v := float64(rnd.IntN(1000)) / 4
		dims := []Dimension{Dim("JobType", jt)}
		if rnd.IntN(3) == 0 {
			dims = nil
		}
		e.Value(name, v, Milliseconds, dims...)
		for _, k := range []string{name, name + "|" + jt} {
			if k != name && dims == nil {
				continue
			}
			if want[k] == nil {
				want[k] = &sums{}
			}
			want[k].n++
			want[k].total += v
		}
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	r := metricstest.Parse(t, buf.Bytes())
	for k, w := range want {
		name, jt, typed := strings.Cut(k, "|")
		dims := []string{"Service", "worker"}
		if typed {
			dims = append(dims, "JobType", jt)
		}
		vals := r.Values(name, dims...)
		if float64(len(vals)) != w.n || r.Sum(name, dims...) != w.total {
			t.Fatalf("%s: %d values summing to %v, want %v summing to %v", k, len(vals), r.Sum(name, dims...), w.n, w.total)
		}
	}
}

func TestDimensionValuesAreCapped(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	e := New(&buf, "scheduler")
	for i := range MaxDimensionValues + 10 {
		e.Count("JobsCompleted", 1, Dim("JobType", fmt.Sprintf("T%03d", i)))
	}
	e.Count("JobsCompleted", 1, Dim("JobType", "T000")) // a value seen before the cap is kept
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	r := metricstest.Parse(t, buf.Bytes())
	if got := r.Sum("JobsCompleted", "Service", "scheduler", "JobType", OtherValue); got != 10 {
		t.Fatalf("Other = %v, want 10", got)
	}
	if got := r.Sum("JobsCompleted", "Service", "scheduler", "JobType", "T000"); got != 2 {
		t.Fatalf("T000 = %v, want 2", got)
	}
	if got := r.Sum("JobsCompleted", "Service", "scheduler"); got != MaxDimensionValues+11 {
		t.Fatalf("total = %v", got)
	}
}

func TestDiscardAndNil(t *testing.T) {
	t.Parallel()
	for _, e := range []*Emitter{nil, Discard()} {
		e.Count("X", 1)
		e.Value("X", 1, Count)
		e.Gauge("X", 1, Count)
		var p Pending
		p.Count("X", 1)
		e.Commit(&p)
		if p.Len() != 0 {
			t.Fatal("Commit kept the records")
		}
		if e.Enabled() || e.Flush() != nil || e.FlushOlder(0) != nil {
			t.Fatal("a discarding emitter is enabled or fails")
		}
	}
}

func TestFromLookup(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env     map[string]string
		enabled bool
		err     string
	}{
		{env: nil, enabled: false},
		{env: map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "jobweaver-worker"}, enabled: true},
		{env: map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "jobweaver-worker", "METRICS": "off"}, enabled: false},
		{env: map[string]string{"METRICS": "emf"}, enabled: true},
		{env: map[string]string{"METRICS": " EMF "}, enabled: true},
		{env: map[string]string{"METRICS": ""}, enabled: false},
		{env: map[string]string{"METRICS": "statsd"}, err: `config: METRICS must be one of emf or off (got "statsd")`},
	}
	for _, tc := range cases {
		var buf bytes.Buffer
		e, err := FromLookup(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }, &buf, "api")
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Fatalf("%v: err = %v, want %s", tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || e.Enabled() != tc.enabled {
			t.Fatalf("%v: enabled = %v, err = %v; want %v", tc.env, e.Enabled(), err, tc.enabled)
		}
		e.Count("JobsSubmitted", 1)
		if err := e.Flush(); err != nil {
			t.Fatal(err)
		}
		if (buf.Len() > 0) != tc.enabled {
			t.Fatalf("%v: wrote %q", tc.env, buf.String())
		}
	}
}

func TestForMode(t *testing.T) {
	t.Parallel()
	for mode, enabled := range map[string]bool{ModeEMF: true, ModeOff: false, "": false} {
		if e := ForMode(mode, io.Discard, "worker"); e.Enabled() != enabled {
			t.Errorf("ForMode(%q).Enabled() = %v", mode, e.Enabled())
		}
	}
}

func TestPendingCountsOnlyOnCommit(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	e := New(&buf, "scheduler")
	sim := Dim("JobType", "SIMULATION")

	var rolledBack Pending
	rolledBack.Count("JobsRetried", 1, sim) // the transaction failed: never committed

	var p Pending
	p.Count("JobsRetried", 2, sim)
	p.Count("JobsRetried", 1, sim)
	p.Value("DispatchLatency", 4, Milliseconds, sim)
	p.Gauge("DueBacklog", 5, Count)
	if buf.Len() != 0 {
		t.Fatal("pending metrics were written")
	}
	e.Commit(&p)
	if p.Len() != 0 {
		t.Fatal("Commit did not empty the pending set")
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	r := metricstest.Parse(t, buf.Bytes())
	if got := r.Sum("JobsRetried", "Service", "scheduler", "JobType", "SIMULATION"); got != 3 {
		t.Fatalf("JobsRetried = %v, want 3", got)
	}
	if got := r.Values("DueBacklog", "Service", "scheduler"); !slices.Equal(got, []float64{5}) {
		t.Fatalf("DueBacklog = %v", got)
	}
}

func TestFlushOlder(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	e := New(&buf, "scheduler")
	now := fixedClock(e, time.Unix(1_790_000_000, 0))
	if err := e.FlushOlder(0); err != nil || buf.Len() != 0 {
		t.Fatal("flushed with nothing recorded")
	}
	e.Count("JobsDispatched", 1)
	*now = now.Add(5 * time.Second)
	e.Count("JobsDispatched", 1)
	if err := e.FlushOlder(10 * time.Second); err != nil || buf.Len() != 0 {
		t.Fatal("flushed too early")
	}
	*now = now.Add(5 * time.Second)
	if err := e.FlushOlder(10 * time.Second); err != nil || buf.Len() == 0 {
		t.Fatalf("not flushed after 10s (err %v)", err)
	}
	if got := metricstest.Parse(t, buf.Bytes()).Sum("JobsDispatched", "Service", "scheduler"); got != 2 {
		t.Fatalf("JobsDispatched = %v", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	e := New(&buf, "worker")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				e.Count("AttemptsSucceeded", 1, Dim("JobType", fmt.Sprintf("T%d", g%2)))
				e.Value("ExecutionDuration", float64(i), Milliseconds)
				if i%100 == 0 {
					_ = e.Flush()
				}
			}
		})
	}
	wg.Wait()
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	r := metricstest.Parse(t, buf.Bytes())
	if got := r.Sum("AttemptsSucceeded", "Service", "worker"); got != 4000 {
		t.Fatalf("AttemptsSucceeded = %v, want 4000", got)
	}
	if got := len(r.Values("ExecutionDuration", "Service", "worker")); got != 4000 {
		t.Fatalf("%d durations, want 4000", got)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("stdout closed") }

func TestWriteErrorIsReported(t *testing.T) {
	t.Parallel()
	e := New(failingWriter{}, "dlq")
	e.Count("PoisonRecords", 1)
	if err := e.Flush(); err == nil || !strings.Contains(err.Error(), "stdout closed") {
		t.Fatalf("err = %v", err)
	}
}

// TestRecordingDoesNotAllocate keeps the hot path at appending a float.
func TestRecordingDoesNotAllocate(t *testing.T) {
	e := New(&bytes.Buffer{}, "worker")
	sim := Dim("JobType", "SIMULATION")
	e.Value("ExecutionDuration", 1, Milliseconds, sim) // the series exists
	_ = e.Flush()
	allocs := testing.AllocsPerRun(1000, func() {
		e.Value("ExecutionDuration", 12.5, Milliseconds, sim)
		e.Count("AttemptsSucceeded", 1, sim)
		e.Gauge("OutboxBacklog", 3, Count)
	})
	if allocs > 0 {
		t.Fatalf("%v allocations per record", allocs)
	}
}

func BenchmarkValue(b *testing.B) {
	e := New(&bytes.Buffer{}, "worker")
	sim := Dim("JobType", "SIMULATION")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e.Value("ExecutionDuration", float64(i), Milliseconds, sim)
		if i%100 == 99 {
			_ = e.Flush()
		}
	}
}
