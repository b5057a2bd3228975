package devstack

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/esm"
	"github.com/jobweaver/jobweaver/shared/invoke"
)

// A consumer group held in a rebalance by a batch its function keeps
// failing (the issue-8 wedge) does not stop the stack from starting:
// waitGroupsStable gives up at once and says which batch fails and why.
func TestWaitGroupsStableStartsDespiteAFailingBatch(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	in := &infra{brokers: c.ListenAddrs()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	prod, err := in.kafkaClient("producer")
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	inv := &invoke.Local{}
	inv.Register("fn", lambda.NewHandler(func(context.Context) error {
		return errors.New("scheduler: relay outbox: MESSAGE_TOO_LARGE")
	}))
	m := &esm.Mapping{Name: "t->fn", Topics: []string{"t"}, Group: "g", Function: "fn", Brokers: in.brokers,
		Invoker: inv, RetryBackoff: time.Millisecond, Health: &esm.Health{}}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(runCtx) }()
	for len(m.Health.Failing()) == 0 || m.Health.Failing()[0].Attempts < 3 {
		if ctx.Err() != nil {
			t.Fatal("the mapping never failed its batch three times")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A second member joins: the first holds the rebalance while it
	// retries, so the group cannot settle.
	joiner, err := kgo.NewClient(kgo.SeedBrokers(in.brokers...), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer joiner.Close() // after the mapping has stopped (defers run last first)
	go func() {
		for runCtx.Err() == nil {
			joiner.PollFetches(runCtx)
		}
	}()
	adm := kadm.NewClient(prod)
	for {
		d, err := adm.DescribeGroups(ctx, "g")
		if err == nil && d["g"].State != "Stable" {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the group never started rebalancing")
		}
		time.Sleep(10 * time.Millisecond)
	}

	defer func() { stop(); <-done }()

	var logs bytes.Buffer
	if err := in.waitGroupsStable(ctx, []*esm.Mapping{m}, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatalf("waitGroupsStable = %v; want the stack to start", err)
	}
	for _, want := range []string{"starting anyway", "keeps failing a batch", "@0..0 ", "MESSAGE_TOO_LARGE", "g: "} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}
