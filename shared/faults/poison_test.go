package faults

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/faulttest"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/stacktest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// poisons are record values no consumer can decode.
var poisons = map[string][]byte{
	"truncated JSON":   []byte(`{"this is":"not an envelope"`),
	"not an envelope":  []byte(`{"eventId":"not-a-uuid","type":"RunJob","payload":7}`),
	"invalid UTF-8":    {0xff, 0xfe, 0x00, 0xc3},
	"empty":            nil,
	"JSON of the void": []byte(`null`),
}

// Poison records on every topic: records nobody can decode, on every
// partition of every lifecycle topic, with jobs behind them. Each becomes
// exactly one dead letter and its partition keeps flowing. Then every
// consumer group is deleted and the stack restarted, so that every record
// of every topic, poison included, is delivered again from the start: no
// second dead letter, no step run again, nothing changed.
func TestPoisonRecordsOnEveryTopic(t *testing.T) {
	n := faulttest.Pick(60, 600)
	target := faulttest.NewTarget(t)
	b := faulttest.NewBroker(t)
	cfg := stacktest.Config(t, "poison", vars(map[string]string{"KAFKA_BROKERS": b.Addr}))
	s := stacktest.Start(t, cfg)
	d := faulttest.OpenDBs(t, s.Admin, s.Prefix, []string{b.Addr})
	began := time.Now()

	type source struct {
		topic             string
		partition, offset int64
	}
	prod := faulttest.ManualProducer(t, []string{b.Addr})
	var sources []source
	for _, topic := range kafka.Topics {
		for p := int32(0); p < topic.Partitions; p++ {
			for what, v := range poisons {
				res := prod.ProduceSync(context.Background(), &kgo.Record{Topic: topic.Name, Partition: p, Value: v,
					Headers: []kgo.RecordHeader{{Key: "faulttest-poison", Value: []byte(what)}}})
				if err := res.FirstErr(); err != nil {
					t.Fatal(err)
				}
				r := res[0].Record
				sources = append(sources, source{r.Topic, int64(r.Partition), r.Offset})
			}
		}
	}
	jobs := faulttest.Submit(t, s.APIURL, target, "poison", n, 0)

	lettersOf := func() (missing, twice []string) {
		got := map[source]int{}
		rows, err := d.Pool("dlq").Query(context.Background(), `SELECT source->>'topic', (source->>'partition')::bigint, (source->>'offset')::bigint
			FROM dead_letters WHERE reason = 'POISON_RECORD'`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var src source
			if err := rows.Scan(&src.topic, &src.partition, &src.offset); err != nil {
				t.Fatal(err)
			}
			got[src]++
		}
		rows.Close()
		for _, src := range sources {
			switch got[src] {
			case 0:
				missing = append(missing, fmt.Sprint(src))
			case 1:
			default:
				twice = append(twice, fmt.Sprintf("%v ×%d", src, got[src]))
			}
		}
		return missing, twice
	}
	settle := func(when string) {
		faulttest.Settle(t, d, []string{b.Addr}, jobs, faulttest.Bound)
		testwait.Eventually(t, faulttest.Bound, "a dead letter for every poison record "+when, func() bool {
			missing, _ := lettersOf()
			return len(missing) == 0
		})
		faulttest.Settle(t, d, []string{b.Addr}, jobs, faulttest.Bound)
		if _, twice := lettersOf(); len(twice) > 0 {
			t.Errorf("%s: %d poison records with more than one dead letter, such as %v", when, len(twice), twice[:min(len(twice), 3)])
			byTopic := map[string]int{}
			for _, s := range twice {
				byTopic[strings.Fields(strings.TrimPrefix(s, "{"))[0]]++
			}
			t.Errorf("%s: poison records with more than one dead letter, by topic: %v", when, byTopic)
		}
		faulttest.Check(t, d, target, jobs, faulttest.Tolerance{})
	}
	settle("after the first delivery")
	first := d.Int(t, "dlq", `SELECT count(*) FROM dead_letters`)

	// Deliver everything again: a stack restarted with no committed offsets.
	s.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	groups, err := adm.ListGroups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	del, err := adm.DeleteGroups(context.Background(), groups.Groups()...)
	if err != nil || del.Error() != nil {
		t.Fatalf("delete the consumer groups: %v %v", err, del.Error())
	}
	cl.Close()
	stacktest.Start(t, cfg) // the restarted stack; t.Cleanup stops it
	testwait.Eventually(t, faulttest.Bound, "every record is consumed again", func() bool {
		lag, err := faulttest.Lag([]string{b.Addr})
		return err == nil && lag == 0
	})
	settle("after every record was delivered again")
	if again := d.Int(t, "dlq", `SELECT count(*) FROM dead_letters`); again != first {
		t.Errorf("%d dead letters after the replay, %d before", again, first)
	}
	faulttest.Logf(t, "%d poison records (%d kinds on every partition of %d topics) and %d jobs, delivered twice; %d dead letters; %s",
		len(sources), len(poisons), len(kafka.Topics), n, first, faulttest.Since(began))
}
