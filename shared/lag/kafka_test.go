package lag_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/flow"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/lag"
)

func admin(t *testing.T, brokers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// produce writes n records to topic, keyed so that they spread over its
// partitions.
func produce(t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	for i := range n {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKafkaLag: on a broker holding records, a group that committed half of
// each partition is behind by the other half, a group that never
// committed by everything its topic holds, and a group on an empty topic
// by nothing; one entry per flow route, in its order.
func TestKafkaLag(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	adm := admin(t, brokers)
	prod := kafkatest.Producer(t, brokers)
	ctx := context.Background()
	produce(t, prod, envelope.TopicJobCreated, 21)
	produce(t, prod, envelope.TopicRunJob, 5)

	// The scheduler's job-created group commits half of each partition.
	maps := lag.Mappings("jobweaver-")
	created := maps[0]
	if created.Topic != envelope.TopicJobCreated {
		t.Fatalf("the first mapping is %+v; want job-created's", created)
	}
	ends, err := adm.ListEndOffsets(ctx, created.Topic)
	if err != nil {
		t.Fatal(err)
	}
	commit := kadm.Offsets{}
	var wantCreated int64
	ends.Each(func(o kadm.ListedOffset) {
		commit.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: o.Offset / 2, LeaderEpoch: -1})
		wantCreated += o.Offset - o.Offset/2
	})
	if wantCreated == 0 || wantCreated == 21 {
		t.Fatalf("the records did not spread (behind by %d of 21)", wantCreated)
	}
	resp, err := adm.CommitOffsets(ctx, created.Group, commit)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}

	got, err := (&lag.Kafka{Admin: adm, Mappings: maps}).Lag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(flow.Routes) {
		t.Fatalf("%d entries, want one per route (%d): %+v", len(got), len(flow.Routes), got)
	}
	want := map[string]int64{envelope.TopicJobCreated: wantCreated, envelope.TopicRunJob: 5}
	for i, r := range flow.Routes {
		w := internalapi.Lag{Consumer: r.Consumer, Topic: r.Topic, Group: r.Group("jobweaver-"), Lag: want[r.Topic]}
		if got[i] != w {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], w)
		}
	}
}

// TestKafkaLagBrokerDown: a broker that does not answer is an error, not
// a lag of zero.
func TestKafkaLagBrokerDown(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, envelope.TopicJobCreated))
	if err != nil {
		t.Fatal(err)
	}
	adm := admin(t, c.ListenAddrs())
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	got, err := (&lag.Kafka{Admin: adm, Mappings: lag.Mappings("jobweaver-")}).Lag(ctx)
	if err == nil {
		t.Fatalf("lag with the broker down = %+v, no error", got)
	}
}
