package esm_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/esm"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// bound is how long a test waits for something that must happen before it
// gives up; it only turns a hang into a failure and asserts no latency.
const bound = 2 * time.Minute

// call is one invocation as the handler saw it.
type call struct {
	raw      []byte
	ev       events.KafkaEvent
	records  []events.KafkaRecord // flattened, in offset order per partition
	deadline time.Time
	hasDL    bool
	at       time.Time
}

// recorder is a test function: it records every invocation and answers
// with fail's verdict.
type recorder struct {
	mu    sync.Mutex
	calls []call
	fail  func(n int, c call, ctx context.Context) error // nil: succeed
	wake  chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1)} }

func (r *recorder) handle(ctx context.Context, raw json.RawMessage) error {
	var ev events.KafkaEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return fmt.Errorf("not a Kafka event: %w", err)
	}
	dl, ok := ctx.Deadline()
	c := call{raw: bytes.Clone(raw), ev: ev, records: kafka.Flatten(ev), deadline: dl, hasDL: ok, at: time.Now()}
	r.mu.Lock()
	n := len(r.calls)
	r.calls = append(r.calls, c)
	fail := r.fail
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	if fail != nil {
		return fail(n, c, ctx)
	}
	return nil
}

func (r *recorder) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// waitFor waits until cond holds over the calls so far.
func (r *recorder) waitFor(t *testing.T, what string, cond func([]call) bool) []call {
	t.Helper()
	deadline := time.After(bound)
	for {
		cs := r.snapshot()
		if cond(cs) {
			return cs
		}
		select {
		case <-r.wake:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("gave up waiting for %s after %d invocations", what, len(cs))
		}
	}
}

func uniqueRecords(cs []call) int {
	seen := map[string]bool{}
	for _, c := range cs {
		for _, r := range c.records {
			seen[fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset)] = true
		}
	}
	return len(seen)
}

// run starts m with a local function and returns a stop that waits for
// Run to return.
func run(t *testing.T, m *esm.Mapping, rec *recorder) (stop func()) {
	t.Helper()
	inv := &invoke.Local{}
	inv.Register(m.Function, lambda.NewHandler(rec.handle))
	m.Invoker = inv
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func produce(t *testing.T, cl *kgo.Client, rs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// manualProducer sends records to the partition they name.
func manualProducer(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func committed(t *testing.T, brokers []string, group, topic string, partition int32) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	o, ok := offs.Lookup(topic, partition)
	if !ok || o.Err != nil {
		return -1
	}
	return o.At
}

func TestDeliversEveryRecordInOrderPerPartition(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	prod := kafkatest.Producer(t, brokers)
	const n = 600
	var rs []*kgo.Record
	for i := 0; i < n; i++ {
		rs = append(rs, &kgo.Record{Topic: envelope.TopicRunJob, Key: []byte(fmt.Sprintf("job-%d", i%37)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	produce(t, prod, rs...)

	rec := newRecorder()
	stop := run(t, &esm.Mapping{
		Name: "order", Topics: []string{envelope.TopicRunJob}, Group: "order-test", Function: "fn",
		BatchSize: 50, Window: 5 * time.Millisecond, Pollers: 2, Brokers: brokers,
	}, rec)
	cs := rec.waitFor(t, "all records", func(cs []call) bool { return uniqueRecords(cs) == n })
	stop()

	// Every value produced arrives; per partition the offsets arrive in
	// order, with no gap (a redelivery may only repeat what came before).
	next := map[int64]int64{}
	values := map[string]bool{}
	dups := 0
	for i, c := range cs {
		if len(c.records) > 50 {
			t.Errorf("invocation %d has %d records; batch size is 50", i, len(c.records))
		}
		for key, krs := range c.ev.Records {
			for j, r := range krs {
				if want := fmt.Sprintf("%s-%d", r.Topic, r.Partition); key != want {
					t.Fatalf("record of %s filed under %q", want, key)
				}
				if j > 0 && r.Offset != krs[j-1].Offset+1 {
					t.Errorf("invocation %d, %s: offset %d follows %d", i, key, r.Offset, krs[j-1].Offset)
				}
			}
		}
		for _, r := range c.records {
			switch {
			case r.Offset == next[r.Partition]:
				next[r.Partition]++
			case r.Offset < next[r.Partition]:
				dups++
			default:
				t.Fatalf("partition %d: offset %d delivered before %d", r.Partition, r.Offset, next[r.Partition])
			}
			v, err := base64.StdEncoding.DecodeString(r.Value)
			if err != nil {
				t.Fatalf("value %q is not base64: %v", r.Value, err)
			}
			values[string(v)] = true
		}
	}
	if len(values) != n {
		t.Errorf("got %d distinct values, want %d", len(values), n)
	}
	if len(next) < 2 {
		t.Errorf("records came from %d partitions; the test wants several", len(next))
	}
	t.Logf("%d invocations, %d redelivered records", len(cs), dups)
}

func TestBatchSizeIsRespected(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	prod := manualProducer(t, brokers)
	var rs []*kgo.Record
	for i := 0; i < 300; i++ {
		rs = append(rs, &kgo.Record{Topic: envelope.TopicJobCreated, Partition: 0, Value: []byte(fmt.Sprint(i))})
	}
	produce(t, prod, rs...)

	// With a window far longer than the test, a batch is invoked only
	// when it is full: exactly three batches of 100.
	rec := newRecorder()
	stop := run(t, &esm.Mapping{
		Topics: []string{envelope.TopicJobCreated}, Group: "batch-test", Function: "fn",
		BatchSize: 100, Window: time.Hour, Brokers: brokers,
	}, rec)
	cs := rec.waitFor(t, "300 records", func(cs []call) bool { return uniqueRecords(cs) == 300 })
	stop()
	if len(cs) != 3 {
		t.Fatalf("got %d invocations, want 3", len(cs))
	}
	for i, c := range cs {
		if len(c.records) != 100 || c.records[0].Offset != int64(100*i) {
			t.Errorf("invocation %d: %d records from offset %d; want 100 from %d", i, len(c.records), c.records[0].Offset, 100*i)
		}
	}
}

func TestFailedBatchIsRetriedWholeAndNotCommitted(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	prod := manualProducer(t, brokers)
	for i := 0; i < 5; i++ {
		produce(t, prod, &kgo.Record{Topic: envelope.TopicJobFailed, Partition: 2, Value: []byte(fmt.Sprint("r", i))})
	}
	const group = "retry-test"

	// A function that always fails: the same batch comes again and again.
	failing := newRecorder()
	failing.fail = func(int, call, context.Context) error { return errors.New("boom") }
	stop := run(t, &esm.Mapping{
		Topics: []string{envelope.TopicJobFailed}, Group: group, Function: "fn",
		BatchSize: 10, Brokers: brokers, RetryBackoff: time.Millisecond,
	}, failing)
	cs := failing.waitFor(t, "three attempts", func(cs []call) bool { return len(cs) >= 3 })
	first := offsets(cs[0])
	if len(first) == 0 || first[0] != 0 {
		t.Fatalf("first batch = offsets %v; want it to start at 0", first)
	}
	for i, c := range cs[1:] {
		if got := offsets(c); fmt.Sprint(got) != fmt.Sprint(first) {
			t.Errorf("retry %d carried offsets %v; want the same batch %v", i+1, got, first)
		}
	}
	if at := committed(t, brokers, group, envelope.TopicJobFailed, 2); at >= 0 {
		t.Errorf("offset %d committed while the function fails", at)
	}
	stop()
	if at := committed(t, brokers, group, envelope.TopicJobFailed, 2); at >= 0 {
		t.Errorf("offset %d committed after stopping a failing mapping", at)
	}

	// A new mapping on the same group gets the uncommitted records again.
	ok := newRecorder()
	stop = run(t, &esm.Mapping{
		Topics: []string{envelope.TopicJobFailed}, Group: group, Function: "fn",
		BatchSize: 10, Brokers: brokers,
	}, ok)
	cs = ok.waitFor(t, "redelivery", func(cs []call) bool { return uniqueRecords(cs) == 5 })
	if got := offsets(cs[0]); got[0] != 0 {
		t.Errorf("after restart the first batch starts at offset %d; want 0", got[0])
	}
	// Once it succeeds, the offsets are committed (just after the invocation).
	testwait.Eventually(t, bound, "offset 5 is committed", func() bool {
		return committed(t, brokers, group, envelope.TopicJobFailed, 2) == 5
	})
	stop()
}

// syncBuffer is a log sink the pollers may write while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestPanickingFunctionFailsTheBatchAndIsRetried(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	prod := manualProducer(t, brokers)
	for i := 0; i < 3; i++ {
		produce(t, prod, &kgo.Record{Topic: envelope.TopicJobCreated, Partition: 1, Value: []byte(fmt.Sprint("r", i))})
	}
	const group = "panic-test"
	// The first two invocations panic; the third succeeds.
	rec := newRecorder()
	rec.fail = func(n int, _ call, _ context.Context) error {
		if n < 2 {
			panic(fmt.Sprintf("handler bug %d", n))
		}
		return nil
	}
	logs := &syncBuffer{}
	stop := run(t, &esm.Mapping{
		Topics: []string{envelope.TopicJobCreated}, Group: group, Function: "fn",
		BatchSize: 10, Brokers: brokers, RetryBackoff: time.Millisecond,
		Log: slog.New(slog.NewJSONHandler(logs, nil)),
	}, rec)
	cs := rec.waitFor(t, "the batch after two panics", func(cs []call) bool { return len(cs) >= 3 })
	for i, c := range cs[:3] {
		if got := offsets(c); fmt.Sprint(got) != "[0 1 2]" {
			t.Fatalf("invocation %d carried offsets %v; want the same batch [0 1 2] each time", i, got)
		}
	}
	testwait.Eventually(t, bound, "offset 3 is committed once the function stops panicking", func() bool {
		return committed(t, brokers, group, envelope.TopicJobCreated, 1) == 3
	})
	stop() // Run returns: the mapping survived the panics
	out := logs.String()
	for _, want := range []string{`"function panicked; the batch counts as failed and will be retried"`, `"panic":"handler bug 0"`, `"panic":"handler bug 1"`, `"stack":"goroutine `, `esm: the function panicked: handler bug 0`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
}

func offsets(c call) []int64 {
	var out []int64
	for _, r := range c.records {
		out = append(out, r.Offset)
	}
	return out
}

func TestTimeoutFailsTheInvocation(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	prod := kafkatest.Producer(t, brokers)
	produce(t, prod, &kgo.Record{Topic: envelope.TopicJobDeadLetter, Value: []byte("x")})

	// The first invocation outlives its deadline and then "succeeds":
	// Lambda would have stopped it, so the batch comes again.
	rec := newRecorder()
	rec.fail = func(n int, _ call, ctx context.Context) error {
		if n == 0 {
			<-ctx.Done()
		}
		return nil
	}
	stop := run(t, &esm.Mapping{
		Topics: []string{envelope.TopicJobDeadLetter}, Group: "timeout-test", Function: "fn",
		Brokers: brokers, FunctionTimeout: 50 * time.Millisecond, RetryBackoff: time.Millisecond,
	}, rec)
	cs := rec.waitFor(t, "a second invocation", func(cs []call) bool { return len(cs) >= 2 })
	stop()
	if fmt.Sprint(offsets(cs[0])) != fmt.Sprint(offsets(cs[1])) {
		t.Errorf("retry after timeout carried %v; want %v", offsets(cs[1]), offsets(cs[0]))
	}
}

func TestEventShapeAndRecordsDecode(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	prod := kafkatest.Producer(t, brokers)
	binary := []byte{0x00, 0x7f, 0x80, 0xff}
	want := map[string]envelope.Envelope{}
	for i := 0; i < 20; i++ {
		env, err := envelope.New(envelope.TypeRunJob, uuid.NewString(), uuid.NewString(), envelope.RunJob{Attempt: i + 1})
		if err != nil {
			t.Fatal(err)
		}
		r := kafka.Record(env)
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: "bin", Value: binary})
		produce(t, prod, r)
		want[env.EventID] = env
	}

	const timeout = 7 * time.Second
	rec := newRecorder()
	stop := run(t, &esm.Mapping{
		Topics: []string{envelope.TopicRunJob}, Group: "shape-test", Function: "fn",
		Brokers: brokers, FunctionTimeout: timeout,
	}, rec)
	cs := rec.waitFor(t, "20 records", func(cs []call) bool { return uniqueRecords(cs) == 20 })
	stop()

	for _, c := range cs {
		if c.ev.EventSource != "aws:kafka" || c.ev.EventSourceARN != esm.LocalClusterARN || c.ev.BootstrapServers != strings.Join(brokers, ",") {
			t.Errorf("event source %q, ARN %q, bootstrap %q", c.ev.EventSource, c.ev.EventSourceARN, c.ev.BootstrapServers)
		}
		if !c.hasDL || !c.deadline.After(c.at) || c.deadline.Sub(c.at) > timeout {
			t.Errorf("invocation deadline %v (set %v) is not within FunctionTimeout %v of its start %v", c.deadline, c.hasDL, timeout, c.at)
		}
		// The raw JSON carries headers as arrays of signed bytes, as Lambda sends them.
		if !bytes.Contains(c.raw, []byte(`{"bin":[0,127,-128,-1]}`)) {
			t.Errorf("raw event lacks the binary header as signed bytes: %s", c.raw)
		}
		for _, r := range c.records {
			env, err := kafka.Decode(r)
			if err != nil {
				t.Fatalf("record %d: %v", r.Offset, err)
			}
			w, ok := want[env.EventID]
			if !ok {
				t.Fatalf("unexpected event %s", env.EventID)
			}
			if env.JobID != w.JobID || env.TraceID != w.TraceID || string(env.Payload) != string(w.Payload) || !env.Time.Equal(w.Time) {
				t.Errorf("decoded %+v; want %+v", env, w)
			}
			key, err := base64.StdEncoding.DecodeString(r.Key)
			if err != nil || string(key) != w.JobID {
				t.Errorf("key %q decodes to %q (%v); want %s", r.Key, key, err, w.JobID)
			}
			if kafka.Header(r, "traceId") != w.TraceID || kafka.Header(r, "eventId") != w.EventID || kafka.Header(r, "type") != envelope.TypeRunJob {
				t.Errorf("headers %v", r.Headers)
			}
			if got := []byte(kafka.Header(r, "bin")); !bytes.Equal(got, binary) {
				t.Errorf("binary header = %v; want %v", got, binary)
			}
			if r.TimestampType != "CREATE_TIME" || r.Timestamp.IsZero() {
				t.Errorf("timestamp %v (%s)", r.Timestamp, r.TimestampType)
			}
		}
	}
}

func TestLargeRecordsSplitUnderThePayloadLimit(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	prod := manualProducer(t, brokers)
	var rs []*kgo.Record
	for i := 0; i < 40; i++ {
		rs = append(rs, &kgo.Record{Topic: envelope.TopicRunJob, Partition: 1, Value: bytes.Repeat([]byte{byte('a' + i%26)}, 600)})
	}
	produce(t, prod, rs...)

	const limit = 4000
	rec := newRecorder()
	stop := run(t, &esm.Mapping{
		Topics: []string{envelope.TopicRunJob}, Group: "size-test", Function: "fn",
		BatchSize: 100, Brokers: brokers, MaxPayloadBytes: limit,
	}, rec)
	cs := rec.waitFor(t, "40 records", func(cs []call) bool { return uniqueRecords(cs) == 40 })
	stop()
	var next int64
	for i, c := range cs {
		if len(c.records) > 1 && len(c.raw) > limit {
			t.Errorf("invocation %d: %d bytes with %d records; limit %d", i, len(c.raw), len(c.records), limit)
		}
		for _, r := range c.records {
			if r.Offset != next {
				t.Fatalf("invocation %d: offset %d, want %d", i, r.Offset, next)
			}
			next++
		}
	}
	if len(cs) < 40*800/limit {
		t.Errorf("only %d invocations for 40 records of 800 base64 bytes under a %d-byte limit", len(cs), limit)
	}
}

func TestRunRejectsIncompleteMapping(t *testing.T) {
	for _, m := range []esm.Mapping{
		{Group: "g", Function: "f", Brokers: []string{"x"}, Invoker: &invoke.Local{}},
		{Topics: []string{"t"}, Function: "f", Brokers: []string{"x"}, Invoker: &invoke.Local{}},
		{Topics: []string{"t"}, Group: "g", Brokers: []string{"x"}, Invoker: &invoke.Local{}},
		{Topics: []string{"t"}, Group: "g", Function: "f", Brokers: []string{"x"}},
		{Topics: []string{"t"}, Group: "g", Function: "f", Invoker: &invoke.Local{}},
	} {
		if err := m.Run(context.Background()); err == nil {
			t.Errorf("Run(%+v) = nil; want an error", m)
		}
	}
}

// A mapping's Health names the batch its function keeps failing, with the
// attempts and the last error, and forgets it once the batch goes through.
func TestHealthNamesTheFailingBatchUntilItIsDelivered(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	prod := manualProducer(t, brokers)
	produce(t, prod, &kgo.Record{Topic: envelope.TopicJobCreated, Partition: 4, Value: []byte("x")})
	var healthy atomic.Bool
	rec := newRecorder()
	rec.fail = func(int, call, context.Context) error {
		if healthy.Load() {
			return nil
		}
		return errors.New("relay outbox: MESSAGE_TOO_LARGE")
	}
	h := &esm.Health{}
	run(t, &esm.Mapping{Topics: []string{envelope.TopicJobCreated}, Group: "health-test", Function: "fn",
		Brokers: brokers, RetryBackoff: time.Millisecond, Health: h}, rec)
	rec.waitFor(t, "three attempts", func(cs []call) bool { return len(cs) >= 3 })
	fs := h.Failing()
	if len(fs) != 1 || fs[0].Attempts < 2 || fs[0].Partitions != "job-created-4@0..0" ||
		!strings.Contains(fs[0].String(), "MESSAGE_TOO_LARGE") {
		t.Fatalf("Failing = %+v", fs)
	}
	healthy.Store(true)
	testwait.Eventually(t, bound, "nothing is failing once delivery succeeds", func() bool { return len(h.Failing()) == 0 })
}
