package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
)

func TestReadRange(t *testing.T) {
	brokers := kafkatest.Cluster(t, kfake.SeedTopics(1, "t"))
	cfg := kafka.Config{Brokers: brokers, ClientID: "readrange-test"}
	prod, err := kafka.NewProducer(cfg, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 10 {
		r := &kgo.Record{Topic: "t", Partition: 0, Key: []byte("k"), Value: fmt.Appendf(nil, "v%d", i),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}}
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name        string
		first, last int64
		want        string
	}{
		{"inside", 2, 4, "v2 v3 v4"},
		{"one", 0, 0, "v0"},
		{"past the end", 8, 50, "v8 v9"},
		{"beyond the end", 10, 12, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			recs, err := kafka.ReadRange(ctx, cfg, "t", 0, c.first, c.last)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for i, r := range recs {
				if i > 0 {
					got += " "
				}
				got += string(r.Value)
				if string(r.Key) != "k" || len(r.Headers) != 1 || r.Offset != c.first+int64(i) {
					t.Errorf("record %+v lost its key, headers or place", r)
				}
			}
			if got != c.want {
				t.Fatalf("ReadRange(%d, %d) = %q, want %q", c.first, c.last, got, c.want)
			}
		})
	}
	if _, err := kafka.ReadRange(ctx, cfg, "t", 0, 5, 4); err == nil {
		t.Error("a reversed range was accepted")
	}
	if _, err := kafka.ReadRange(ctx, cfg, "t", 7, 0, 1); err == nil {
		t.Error("a missing partition was accepted")
	}
}
