package lag_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/lag"
)

// fakeCloudWatch answers GetMetricData as CloudWatch does (Smithy RPC v2
// CBOR, the protocol of the SDK's client) from the series it holds, keyed
// by namespace, metric name and dimensions.
type fakeCloudWatch struct {
	mu     sync.Mutex
	series map[string][]datapoint
	calls  int
	fail   bool
	bad    []string // what a request had wrong
}

type datapoint struct {
	at time.Time
	v  float64
}

// key names a series: "AWS/Lambda OffsetLag A=1,B=2" (dimensions sorted).
func key(ns, name string, dims map[string]string) string {
	var parts []string
	for k, v := range dims {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return ns + " " + name + " " + strings.Join(parts, ",")
}

func (f *fakeCloudWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	body, _ := io.ReadAll(r.Body)
	if !strings.HasSuffix(r.URL.Path, "/operation/GetMetricData") || r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		f.bad = append(f.bad, "unexpected call "+r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	if f.fail {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String("com.amazonaws.cloudwatch#InvalidParameterValueException"), "message": cbor.String("no")}))
		return
	}
	v, err := cbor.Decode(body)
	in, _ := v.(cbor.Map)
	if err != nil || in == nil {
		f.bad = append(f.bad, "undecodable body")
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	start, _ := cbor.AsTime(in["StartTime"])
	end, _ := cbor.AsTime(in["EndTime"])
	if s, _ := in["ScanBy"].(cbor.String); s != "TimestampDescending" {
		f.bad = append(f.bad, "ScanBy "+string(s))
	}
	var results cbor.List
	queries, _ := in["MetricDataQueries"].(cbor.List)
	for _, q := range queries {
		qm := q.(cbor.Map)
		stat := qm["MetricStat"].(cbor.Map)
		if s, p := stat["Stat"], stat["Period"]; s != cbor.String("Maximum") || p != cbor.Uint(60) {
			f.bad = append(f.bad, "a query that is not Maximum over 60 s")
		}
		metric := stat["Metric"].(cbor.Map)
		dims := map[string]string{}
		if list, ok := metric["Dimensions"].(cbor.List); ok {
			for _, d := range list {
				dm := d.(cbor.Map)
				dims[string(dm["Name"].(cbor.String))] = string(dm["Value"].(cbor.String))
			}
		}
		var ts, vs cbor.List
		pts := append([]datapoint(nil), f.series[key(string(metric["Namespace"].(cbor.String)), string(metric["MetricName"].(cbor.String)), dims)]...)
		sort.Slice(pts, func(i, j int) bool { return pts[i].at.After(pts[j].at) })
		for _, p := range pts {
			if !p.at.Before(start) && p.at.Before(end) {
				ts = append(ts, &cbor.Tag{ID: 1, Value: cbor.Float64(float64(p.at.UnixMilli()) / 1000)})
				vs = append(vs, cbor.Float64(p.v))
			}
		}
		results = append(results, cbor.Map{"Id": qm["Id"], "Label": cbor.String("OffsetLag"), "StatusCode": cbor.String("Complete"), "Timestamps": ts, "Values": vs})
	}
	_, _ = w.Write(cbor.Encode(cbor.Map{"MetricDataResults": results}))
}

func cloudWatchClient(t *testing.T, f *fakeCloudWatch) *cloudwatch.Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if len(f.bad) > 0 {
			t.Errorf("the fake got bad requests: %v", f.bad)
		}
	})
	return cloudwatch.New(cloudwatch.Options{
		BaseEndpoint:     aws.String(srv.URL),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
	})
}

// deployed is the flow's mappings as the dev stage deploys them.
func deployed() []lag.Mapping {
	ms := lag.Mappings("jobweaver-dev-")
	for i := range ms {
		ms[i].Function = "jobweaver-dev-" + ms[i].Consumer
		ms[i].UUID = "uuid-" + ms[i].Topic
	}
	return ms
}

// TestCloudWatchLag: each mapping gets its latest OffsetLag within the
// window, whichever per-mapping series Lambda published it under; a
// mapping with none is 0, unless its function has no other Kafka mapping,
// whose function-level series is then its own. A second read within
// CacheFor asks CloudWatch nothing.
func TestCloudWatchLag(t *testing.T) {
	now := time.Date(2026, 12, 4, 21, 30, 0, 0, time.UTC)
	lambda := func(dims ...string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(dims); i += 2 {
			m[dims[i]] = dims[i+1]
		}
		return key("AWS/Lambda", "OffsetLag", m)
	}
	f := &fakeCloudWatch{series: map[string][]datapoint{
		// job-created: by mapping alone; the latest is 7.
		lambda("EventSourceMappingUUID", "uuid-job-created"): {{now.Add(-3 * time.Minute), 40}, {now.Add(-time.Minute), 7}},
		// run-job: by function and mapping.
		lambda("FunctionName", "jobweaver-dev-worker", "EventSourceMappingUUID", "uuid-run-job"): {{now.Add(-2 * time.Minute), 12}},
		// job-failed: only older than the window.
		lambda("EventSourceMappingUUID", "uuid-job-failed"): {{now.Add(-20 * time.Minute), 55}},
		// The scheduler's function-level series sums three mappings: not
		// any one's.
		lambda("FunctionName", "jobweaver-dev-scheduler"): {{now.Add(-time.Minute), 999}},
		// The dlq has one mapping: its function's series is that mapping's.
		lambda("FunctionName", "jobweaver-dev-dlq"): {{now.Add(-time.Minute), 3}},
	}}
	clock := now
	r := &lag.CloudWatch{Client: cloudWatchClient(t, f), Mappings: deployed(), Now: func() time.Time { return clock }}
	got, err := r.Lag(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{envelope.TopicJobCreated: 7, envelope.TopicRunJob: 12, envelope.TopicJobCompleted: 0, envelope.TopicJobFailed: 0, envelope.TopicJobDeadLetter: 3}
	if len(got) != len(want) {
		t.Fatalf("lag = %+v, want %d entries", got, len(want))
	}
	for i, l := range got {
		m := deployed()[i]
		if l.Topic != m.Topic || l.Consumer != m.Consumer || l.Group != m.Group || l.Lag != want[l.Topic] {
			t.Errorf("entry %d = %+v, want %s -> %s (%s) behind by %d", i, l, m.Topic, m.Consumer, m.Group, want[m.Topic])
		}
	}

	// Cached, then read again once CacheFor has passed.
	f.series[lambda("EventSourceMappingUUID", "uuid-job-created")] = []datapoint{{now.Add(30 * time.Second), 70}}
	clock = now.Add(10 * time.Second)
	if again, err := r.Lag(context.Background()); err != nil || again[0].Lag != 7 || f.calls != 1 {
		t.Fatalf("within CacheFor: %+v, %v after %d calls; want the cached 7 and no call", again, err, f.calls)
	}
	clock = now.Add(lag.DefaultCacheFor + time.Second)
	if again, err := r.Lag(context.Background()); err != nil || again[0].Lag != 70 || f.calls != 2 {
		t.Fatalf("after CacheFor: %+v, %v after %d calls; want a new read (70)", again, err, f.calls)
	}
}

// TestCloudWatchLagError: a refused GetMetricData is an error, not zeros.
func TestCloudWatchLagError(t *testing.T) {
	f := &fakeCloudWatch{fail: true}
	r := &lag.CloudWatch{Client: cloudWatchClient(t, f), Mappings: deployed()}
	if got, err := r.Lag(context.Background()); err == nil || !strings.Contains(err.Error(), "GetMetricData") {
		t.Fatalf("Lag = %+v, %v; want the GetMetricData error", got, err)
	}
}
