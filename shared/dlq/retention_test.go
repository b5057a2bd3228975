package dlq_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/dlq"
)

// TestRetention: resolved entries go after the retention, open ones
// after twice it, and beyond the cap the oldest go first; all in chunks.
func TestRetention(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		name string
		cfg  dlq.Config
		keep []string
	}{
		{"retention", dlq.Config{Retention: 10 * day, ChunkSize: 2},
			[]string{"new-5d", "new-15d", "partly-15d", "retried-5d", "dismissed-9d"}},
		{"retention and cap", dlq.Config{Retention: 10 * day, ChunkSize: 2, MaxEntries: 3},
			[]string{"new-5d", "retried-5d", "dismissed-9d"}},
		{"cap only", dlq.Config{Retention: 1000 * day, ChunkSize: 2, MaxEntries: 1},
			[]string{"new-5d"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			svc, pool := setup(t, c.cfg)
			ctx := context.Background()
			now := time.Now()
			for _, e := range []struct {
				name, status string
				age          time.Duration
			}{
				{"new-5d", "NEW", 5 * day}, {"new-15d", "NEW", 15 * day}, {"new-21d", "NEW", 21 * day},
				{"partly-15d", "PARTLY_REPLAYED", 15 * day}, {"partly-25d", "PARTLY_REPLAYED", 25 * day},
				{"retried-5d", "RETRIED", 5*day + time.Hour}, {"retried-11d", "RETRIED", 11 * day},
				{"dismissed-9d", "DISMISSED", 9 * day}, {"dismissed-10d", "DISMISSED", 10*day + time.Minute},
				{"replayed-12d", "REPLAYED", 12 * day},
			} {
				if _, err := pool.Exec(ctx, `INSERT INTO dead_letters (event_id, trace_id, reason, status, received_at)
					VALUES (gen_random_uuid(), $1, 'RETRIES_EXHAUSTED', $2, $3)`, e.name, e.status, now.Add(-e.age)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := pool.Exec(ctx, `INSERT INTO operations (id, kind, status, snapshot_at, started_at, finished_at) VALUES
				(gen_random_uuid(), 'DLQ_DISMISS', 'COMPLETED', now(), now(), $1), (gen_random_uuid(), 'DLQ_DISMISS', 'COMPLETED', now(), now(), now()),
				(gen_random_uuid(), 'DLQ_DISMISS', 'RUNNING', $1, $1, NULL)`, now.Add(-1001*day)); err != nil {
				t.Fatal(err)
			}
			n, err := svc.PruneUntil(ctx, now.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			var kept []string
			rows, _ := pool.Query(ctx, `SELECT trace_id FROM dead_letters`)
			for rows.Next() {
				var s string
				_ = rows.Scan(&s)
				kept = append(kept, s)
			}
			sort.Strings(kept)
			want := append([]string(nil), c.keep...)
			sort.Strings(want)
			if n != 10-len(want) || len(kept) != len(want) {
				t.Fatalf("pruned %d, kept %v; want %v", n, kept, want)
			}
			for i := range want {
				if kept[i] != want[i] {
					t.Fatalf("kept %v; want %v", kept, want)
				}
			}
			var ops int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM operations`).Scan(&ops); err != nil || ops != 2 {
				t.Fatalf("%d operations left (%v); want the recent and the running one", ops, err)
			}
		})
	}
}

func TestRetentionFromEnv(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		v    string
		want time.Duration // 0: refused
	}{
		{"30", 30 * day}, {"7d", 7 * day}, {"720h", 30 * day}, {"90m", 90 * time.Minute}, {"3650", 3650 * day},
		{"0", 0}, {"30m", 0}, {"3651", 0}, {"soon", 0}, {"-5d", 0},
	} {
		env := config.FromMap(map[string]string{"DLQ_RETENTION": c.v})
		got := dlq.ConfigFromEnv(env)
		if c.want == 0 {
			if env.Err() == nil {
				t.Errorf("DLQ_RETENTION=%s accepted as %s", c.v, got.Retention)
			}
			continue
		}
		if env.Err() != nil || got.Retention != c.want {
			t.Errorf("DLQ_RETENTION=%s: %s, %v; want %s", c.v, got.Retention, env.Err(), c.want)
		}
	}
	for v, ok := range map[string]bool{"0": true, "10000": true, "-1": false, "many": false} {
		env := config.FromMap(map[string]string{"DLQ_MAX_ENTRIES": v})
		dlq.ConfigFromEnv(env)
		if (env.Err() == nil) != ok {
			t.Errorf("DLQ_MAX_ENTRIES=%s: %v", v, env.Err())
		}
	}
}

// TestStoredHook: the notifications' hook sees each new entry once,
// after it is stored; a redelivery calls nothing.
func TestStoredHook(t *testing.T) {
	svc, _ := setup(t, dlq.Config{})
	ctx := context.Background()
	var got [][]dlq.Entry
	svc.OnStored(func(_ context.Context, es []dlq.Entry) { got = append(got, es) })
	a, b := deadLetter(t, "RETRIES_EXHAUSTED"), deadLetter(t, "PERMANENT_FAILURE")
	if err := svc.HandleKafka(ctx, batch(0, a, b)); err != nil {
		t.Fatal(err)
	}
	if err := svc.HandleKafka(ctx, batch(0, a, b)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0]) != 2 || got[0][0].ID != a.EventID || got[0][1].Reason != "PERMANENT_FAILURE" ||
		got[0][0].Status != dlq.StatusNew || got[0][0].JobID != a.JobID || got[0][0].FailedAt == nil {
		t.Fatalf("hook calls = %+v", got)
	}
}
