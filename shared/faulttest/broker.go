package faulttest

import (
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jobweaver/jobweaver/shared/kafka"
)

// Broker is a Kafka-protocol broker (kfake) that a case owns, so that it
// can restart it or hold a request: the stack reaches it as external
// KAFKA_BROKERS. Its log and offsets persist in a data folder, as the
// embedded broker's do, and it keeps its port across restarts.
type Broker struct {
	Addr string

	mu   sync.Mutex
	c    *kfake.Cluster
	dir  string
	port int
}

// NewBroker starts a broker with the lifecycle topics on a free loopback
// port; it stops when the test ends.
func NewBroker(tb testing.TB) *Broker {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	b := &Broker{dir: tb.TempDir(), port: port}
	b.start(tb)
	tb.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.c != nil {
			b.c.Close()
			b.c = nil
		}
	})
	return b
}

func (b *Broker) start(tb testing.TB) {
	tb.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.DataDir(b.dir), kfake.Ports(b.port), kfake.ClusterID("jobweaver-faulttest")}
	for _, t := range kafka.Topics {
		opts = append(opts, kfake.SeedTopics(t.Partitions, t.Name))
	}
	var err error
	for try := 0; try < 50; try++ { // the port may linger a moment after a close
		var c *kfake.Cluster
		if c, err = kfake.NewCluster(opts...); err == nil {
			b.mu.Lock()
			b.c = c
			b.Addr = c.ListenAddrs()[0]
			b.mu.Unlock()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("faulttest: start the broker on port %d: %v", b.port, err)
}

// Restart stops the broker, leaves it down for down, and starts it again
// on the same port and data.
func (b *Broker) Restart(tb testing.TB, down time.Duration) {
	tb.Helper()
	b.mu.Lock()
	c := b.c
	b.c = nil
	b.mu.Unlock()
	if c != nil {
		c.Close()
	}
	time.Sleep(down) // the outage itself, not a wait for an outcome
	b.start(tb)
}

// DuringProduce holds the next produce request to any of topics until fn
// has run, then lets it through; done closes once that happened. Every
// outbox publish comes after the commit that wrote its rows, so fn runs
// between a COMMIT and its publish. cancel withdraws the hold if it has
// not fired yet, and reports whether it had.
func (b *Broker) DuringProduce(topics []string, fn func()) (done <-chan struct{}, cancel func() (fired bool)) {
	ch := make(chan struct{})
	b.mu.Lock()
	c := b.c
	b.mu.Unlock()
	// Produce v13 names topics by ID: resolve them here, outside the
	// cluster's goroutine.
	ids := map[[16]byte]bool{}
	for _, t := range topics {
		if i := c.TopicInfo(t); i != nil {
			ids[i.TopicID] = true
		}
	}
	// state: 0 armed, 1 fired (or firing), 2 withdrawn. No lock is held
	// across SleepControl: the cluster runs other requests meanwhile, this
	// control among them.
	var state atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if state.Load() != 0 { // a kept control may run again
			return nil, nil, false
		}
		p, ok := req.(*kmsg.ProduceRequest)
		match := false
		if ok {
			for _, t := range p.Topics {
				match = match || slices.Contains(topics, t.Topic) || ids[t.TopicID]
			}
		}
		if !match {
			c.KeepControl()
			return nil, nil, false
		}
		if !state.CompareAndSwap(0, 1) {
			return nil, nil, false
		}
		c.SleepControl(fn)
		close(ch)
		return nil, nil, false
	})
	return ch, func() bool {
		if state.CompareAndSwap(0, 2) {
			return false
		}
		if state.Load() == 1 {
			<-ch // firing: wait until fn has run
			return true
		}
		return false
	}
}
