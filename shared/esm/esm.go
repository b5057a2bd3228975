// Package esm emulates a Lambda event-source mapping for Kafka (Amazon MSK
// or self-managed Kafka) in one process, so that the local stack feeds its
// functions the same events, with the same delivery semantics, as AWS.
//
// A Mapping reads its topics through Pollers consumer-group members (one
// franz-go client each) and invokes its function with batches of records
// as an events.KafkaEvent. It behaves as AWS documents for Kafka sources:
//
//   - Batching. A batch holds at most BatchSize records (AWS default 100).
//     When fewer are available the mapping keeps gathering for up to
//     Window (MaximumBatchingWindowInSeconds) from the first record, then
//     invokes with what it has. A batch also stays under MaxPayloadBytes
//     (Lambda's 6 MB synchronous payload limit); records that do not fit
//     open the next batch.
//   - Shape. Records are grouped by "topic-partition", in offset order,
//     with key and value base64-encoded and headers as arrays of signed
//     bytes, under eventSource "aws:kafka", the cluster's eventSourceArn
//     and bootstrapServers.
//   - Ordering. A partition belongs to one poller at a time and a poller
//     invokes one batch at a time, so records of a partition are delivered
//     in order, and a partition's next batch waits for the previous one.
//   - Offsets. They are committed, synchronously, only after the function
//     returned without error; the consumer group does not auto-commit.
//   - Errors. A function error (or timeout, or a panic of an in-process
//     handler, logged with its stack) retries the whole, identical
//     batch with exponential backoff (RetryBackoff doubling to 5 s) until it
//     succeeds; records are never skipped (AWS's default for Kafka sources:
//     retries until the records expire). The partitions of a failing batch
//     therefore block, as they do in AWS.
//   - Crashes. Records of a batch whose offsets were not committed are
//     delivered again by the next poller to own the partition, after a
//     restart or a rebalance. Delivery is at least once; functions must be
//     idempotent.
//   - Deadline. Every invocation gets a context whose deadline is
//     FunctionTimeout away, like a Lambda invocation. An invocation still
//     running at its deadline counts as failed ("Task timed out"), even if
//     it later returns success, as Lambda would have stopped it.
//   - Start. A new consumer group starts at the earliest offset
//     (StartingPosition TRIM_HORIZON).
//
// Rebalances are blocked while a batch is being processed
// (kgo.BlockRebalanceOnPoll) and allowed again after its commit, so a
// poller never commits offsets of a partition it no longer owns.
package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafka"
)

// LocalClusterARN is the eventSourceArn the local mappings report: the
// shape of an Amazon MSK cluster ARN.
const LocalClusterARN = "arn:aws:kafka:us-east-1:000000000000:cluster/jobweaver-local/4f9a2c1e-6d0b-4a7e-9c3f-0a1b2c3d4e5f-1"

// Defaults for unset Mapping fields.
const (
	DefaultBatchSize       = 100
	DefaultFunctionTimeout = 60 * time.Second
	DefaultRetryBackoff    = 200 * time.Millisecond
	DefaultMaxPayloadBytes = 6 * 1024 * 1024
	maxRetryBackoff        = 5 * time.Second
)

// Mapping is one event-source mapping: topics to a function.
type Mapping struct {
	Name      string   // for logs; defaults to Group
	Topics    []string // topics to read
	Group     string   // consumer group ID
	Function  string   // function to invoke
	BatchSize int      // records per invocation at most; 0 means 100
	// Window is how long to keep gathering records for a batch that is not
	// full, counted from its first record; 0 invokes with whatever one
	// poll returned.
	Window  time.Duration
	Pollers int      // consumer-group members; 0 means 1
	Brokers []string // seed brokers
	Invoker invoke.Invoker
	Log     *slog.Logger // nil discards
	// RetryBackoff is the first pause before retrying a failed batch; it
	// doubles up to 5 s. 0 means 200 ms.
	RetryBackoff time.Duration
	// FunctionTimeout is each invocation's deadline; 0 means 60 s.
	FunctionTimeout time.Duration
	// SourceARN is the eventSourceArn of the events; "" means
	// LocalClusterARN.
	SourceARN string
	// MaxPayloadBytes caps the size of one event; 0 means 6 MiB.
	MaxPayloadBytes int
	// ClientOpts are extra franz-go options for every poller, such as TLS
	// or SASL for external brokers.
	ClientOpts []kgo.Opt
	// Health, if set, is kept up to date with the batches the mapping
	// keeps retrying, so that its owner can say what is wrong.
	Health *Health
}

func (m *Mapping) withDefaults() (Mapping, error) {
	c := *m
	switch {
	case len(c.Topics) == 0:
		return c, errors.New("esm: mapping has no topics")
	case c.Group == "":
		return c, errors.New("esm: mapping has no consumer group")
	case c.Function == "":
		return c, errors.New("esm: mapping has no function")
	case c.Invoker == nil:
		return c, errors.New("esm: mapping has no invoker")
	case len(c.Brokers) == 0:
		return c, errors.New("esm: mapping has no brokers")
	}
	if c.Name == "" {
		c.Name = c.Group
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Pollers <= 0 {
		c.Pollers = 1
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.FunctionTimeout <= 0 {
		c.FunctionTimeout = DefaultFunctionTimeout
	}
	if c.SourceARN == "" {
		c.SourceARN = LocalClusterARN
	}
	if c.MaxPayloadBytes <= 0 {
		c.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if c.Window < 0 {
		c.Window = 0
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	c.Log = c.Log.With("esm", c.Name, "function", c.Function)
	return c, nil
}

// Run polls and invokes until ctx is canceled, then leaves the group and
// returns nil. It returns an error only for a mapping it cannot start.
func (m *Mapping) Run(ctx context.Context) error {
	c, err := m.withDefaults()
	if err != nil {
		return err
	}
	clients := make([]*kgo.Client, c.Pollers)
	for i := range clients {
		opts := []kgo.Opt{
			kgo.SeedBrokers(c.Brokers...),
			kgo.ClientID(fmt.Sprintf("%s-%d", c.Group, i)),
			kgo.ConsumerGroup(c.Group),
			kgo.ConsumeTopics(c.Topics...),
			kgo.DisableAutoCommit(),
			kgo.BlockRebalanceOnPoll(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(100 * time.Millisecond),
		}
		cl, err := kgo.NewClient(append(opts, c.ClientOpts...)...)
		if err != nil {
			for _, prev := range clients[:i] {
				prev.Close()
			}
			return fmt.Errorf("esm %s: new consumer: %w", c.Name, err)
		}
		clients[i] = cl
	}
	c.Log.Debug("event-source mapping started", "topics", c.Topics, "group", c.Group,
		"pollers", c.Pollers, "batchSize", c.BatchSize, "window", c.Window.String())
	var wg sync.WaitGroup
	for i, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &poller{m: &c, cl: cl, id: i, log: c.Log.With("poller", i)}
			p.run(ctx)
			// Leave the group so its partitions move on at once.
			cl.CloseAllowingRebalance()
		}()
	}
	wg.Wait()
	c.Log.Debug("event-source mapping stopped")
	return nil
}

type poller struct {
	m       *Mapping
	cl      *kgo.Client
	id      int
	log     *slog.Logger
	pending []*kgo.Record // polled but not yet delivered (over the payload cap)
}

func (p *poller) run(ctx context.Context) {
	for ctx.Err() == nil {
		batch := p.gather(ctx)
		if ctx.Err() != nil {
			return
		}
		if len(batch) == 0 {
			p.cl.AllowRebalance()
			continue
		}
		if !p.deliver(ctx, batch) {
			return // canceled: nothing committed, so the batch comes again
		}
		p.commit(ctx, batch)
		if len(p.pending) == 0 {
			p.cl.AllowRebalance()
		}
	}
}

// gather returns the next batch: the pending records if any, else records
// polled until the batch is full or the window has passed.
func (p *poller) gather(ctx context.Context) []*kgo.Record {
	m := p.m
	recs := p.pending
	p.pending = nil
	if len(recs) == 0 {
		recs = p.poll(ctx, m.BatchSize)
		if len(recs) > 0 && len(recs) < m.BatchSize && m.Window > 0 {
			wctx, cancel := context.WithTimeout(ctx, m.Window)
			for len(recs) < m.BatchSize && wctx.Err() == nil {
				recs = append(recs, p.poll(wctx, m.BatchSize-len(recs))...)
			}
			cancel()
		}
	}
	// Keep the event under the payload limit; the rest opens the next one.
	size := 256
	for i, r := range recs {
		size += recordSize(r)
		if i > 0 && size > m.MaxPayloadBytes {
			p.pending = recs[i:]
			return recs[:i]
		}
	}
	return recs
}

func (p *poller) poll(ctx context.Context, n int) []*kgo.Record {
	fs := p.cl.PollRecords(ctx, n)
	failed := false
	fs.EachError(func(topic string, partition int32, err error) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrClientClosed) {
			return
		}
		failed = true
		p.log.Warn("poll failed", "topic", topic, "partition", partition, "error", err.Error())
	})
	recs := fs.Records()
	if failed && len(recs) == 0 {
		sleep(ctx, p.m.RetryBackoff)
	}
	return recs
}

// recordSize estimates a record's share of the JSON event.
func recordSize(r *kgo.Record) int {
	n := 160 + len(r.Topic) + b64(len(r.Key)) + b64(len(r.Value))
	for _, h := range r.Headers {
		n += 8 + len(h.Key) + 5*len(h.Value)
	}
	return n
}

func b64(n int) int { return (n + 2) / 3 * 4 }

// deliver invokes the function with batch until it succeeds, and reports
// false if ctx ended first.
func (p *poller) deliver(ctx context.Context, batch []*kgo.Record) bool {
	m := p.m
	ev := kafka.Event(m.SourceARN, batch)
	ev.BootstrapServers = strings.Join(m.Brokers, ",")
	payload, err := json.Marshal(ev)
	if err != nil { // cannot happen: plain strings and numbers
		panic(fmt.Sprintf("esm: encode event: %v", err))
	}
	backoff := m.RetryBackoff
	first := time.Now()
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := p.invoke(ctx, payload)
		if err == nil {
			p.log.Debug("batch delivered", "records", len(batch), "attempt", attempt, "ms", time.Since(start).Milliseconds())
			if attempt > 1 {
				m.Health.delivered(p.id)
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		m.Health.failed(p.id, describe(batch), attempt, first, err)
		p.log.Warn("invocation failed; retrying the same batch", "records", len(batch),
			"partitions", describe(batch), "attempt", attempt, "retryIn", backoff.String(), "error", err.Error())
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, maxRetryBackoff)
	}
}

func (p *poller) invoke(ctx context.Context, payload []byte) error {
	m := p.m
	ictx, cancel := context.WithTimeout(ctx, m.FunctionTimeout)
	defer cancel()
	err := p.call(ictx, payload)
	if errors.Is(ictx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("esm: task timed out after %.2f seconds (FunctionTimeout)", m.FunctionTimeout.Seconds())
	}
	return err
}

// call invokes the function once. A panic in an in-process handler is
// what Lambda reports as a runtime error: it fails this invocation, so the
// batch is retried like any failed one, and it is logged with its stack;
// it never takes the mapping, or the process, down.
func (p *poller) call(ctx context.Context, payload []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("function panicked; the batch counts as failed and will be retried",
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("esm: the function panicked: %v", r)
		}
	}()
	_, err = p.m.Invoker.Invoke(ctx, p.m.Function, payload)
	return err
}

// commit stores the batch's offsets. It does not use ctx's cancellation: a
// batch that succeeded should be committed even during shutdown.
func (p *poller) commit(ctx context.Context, batch []*kgo.Record) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := p.cl.CommitRecords(cctx, batch...); err != nil {
		// The records will be delivered again (at least once).
		p.log.Warn("offset commit failed; the batch will be delivered again", "partitions", describe(batch), "error", err.Error())
	}
}

// describe lists "topic-partition@first..last" for logs.
func describe(batch []*kgo.Record) string {
	type span struct{ first, last int64 }
	var keys []string
	spans := map[string]*span{}
	for _, r := range batch {
		k := fmt.Sprintf("%s-%d", r.Topic, r.Partition)
		if s, ok := spans[k]; ok {
			s.last = r.Offset
			continue
		}
		spans[k] = &span{r.Offset, r.Offset}
		keys = append(keys, k)
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s@%d..%d", k, spans[k].first, spans[k].last)
	}
	return strings.Join(parts, ",")
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
