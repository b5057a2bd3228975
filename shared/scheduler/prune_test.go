package scheduler

import (
	"testing"
	"time"
)

func TestRunOncePrunesOldProcessedEvents(t *testing.T) {
	b := setup(t, nil)
	b.exec(t, `INSERT INTO processed_events (event_id, processed_at)
		SELECT gen_random_uuid(), now() - $1::float8 * interval '1 second' - g * interval '1 hour'
		  FROM generate_series(1, 5) AS g`, processedEventRetention.Seconds())
	b.exec(t, `INSERT INTO processed_events (event_id, processed_at)
		SELECT gen_random_uuid(), now() - interval '1 day' FROM generate_series(1, 3)`)
	b.runOnce(t, b.svc)
	if n := b.count(t, `SELECT count(*) FROM processed_events`); n != 3 {
		t.Fatalf("processed events left = %d, want the 3 recent ones", n)
	}
	// Pruning is rate-limited: a second pass right away does not query.
	b.exec(t, `INSERT INTO processed_events (event_id, processed_at) VALUES (gen_random_uuid(), now() - interval '30 days')`)
	b.runOnce(t, b.svc)
	if n := b.count(t, `SELECT count(*) FROM processed_events`); n != 4 {
		t.Fatalf("processed events = %d, want 4", n)
	}
	at := time.Now().Add(2 * pruneInterval)
	later := b.service(t, func(c *Config) { c.Clock = func() time.Time { return at } })
	later.lastPrune.Store(time.Now().UnixNano())
	b.runOnce(t, later)
	if n := b.count(t, `SELECT count(*) FROM processed_events`); n != 3 {
		t.Fatalf("processed events = %d after the interval, want 3", n)
	}
}
