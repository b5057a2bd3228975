package dlq

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestNotifyBackoff(t *testing.T) {
	base, limit := 30*time.Second, 5*time.Minute
	cases := []struct {
		n      int
		jitter float64
		rnd    float64
		want   time.Duration
	}{
		{1, 0, 0.9, 30 * time.Second},
		{2, 0, 0.9, time.Minute},
		{3, 0, 0.9, 2 * time.Minute},
		{4, 0, 0.9, 4 * time.Minute},
		{5, 0, 0.9, 5 * time.Minute}, // capped
		{60, 0, 0.9, 5 * time.Minute},
		{1, 0.2, 0, 24 * time.Second},   // 1 - 0.2
		{1, 0.2, 0.5, 30 * time.Second}, // the middle
		{2, 0.5, 0.75, 75 * time.Second},
		{5, 0.2, 0.99, 5 * time.Minute}, // jitter never passes the cap
	}
	for _, c := range cases {
		if got := notifyBackoff(c.n, base, limit, c.jitter, c.rnd); got != c.want {
			t.Errorf("notifyBackoff(%d, jitter %v, rnd %v) = %v, want %v", c.n, c.jitter, c.rnd, got, c.want)
		}
	}
}

func TestPackBatches(t *testing.T) {
	entries := make([]NotificationEntry, 7)
	for i := range entries {
		entries[i] = NotificationEntry{ID: strings.Repeat("a", 36), Reason: "RETRIES_EXHAUSTED", LastError: strings.Repeat("x", 200)}
	}
	one, _ := json.Marshal(entries[0])
	cases := []struct {
		name     string
		size     int
		maxBytes int
		want     []int
	}{
		{"by count", 3, 1 << 20, []int{3, 3, 1}},
		{"one batch", 100, 1 << 20, []int{7}},
		{"by bytes", 100, 2*len(one) + 3, []int{2, 2, 2, 1}}, // [a,b] is 2 entries + 3 bytes
		{"bytes below one entry", 100, 10, []int{1, 1, 1, 1, 1, 1, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := packBatches(entries, c.size, c.maxBytes)
			var counts []int
			total := 0
			for _, b := range got {
				var back []NotificationEntry
				if err := json.Unmarshal(b.json, &back); err != nil || len(back) != b.count {
					t.Fatalf("batch %s: %v, %d entries, want %d", b.json, err, len(back), b.count)
				}
				if b.count > 1 && len(b.json) > c.maxBytes {
					t.Errorf("a batch of %d entries is %d bytes, over %d", b.count, len(b.json), c.maxBytes)
				}
				counts = append(counts, b.count)
				total += b.count
			}
			if total != len(entries) || len(counts) != len(c.want) {
				t.Fatalf("batches %v, want %v", counts, c.want)
			}
			for i := range counts {
				if counts[i] != c.want[i] {
					t.Fatalf("batches %v, want %v", counts, c.want)
				}
			}
		})
	}
}

func TestSNSMessage(t *testing.T) {
	var entries []NotificationEntry
	for i := range 25 {
		entries = append(entries, NotificationEntry{ID: "id-" + string(rune('a'+i)), Reason: "RETRIES_EXHAUSTED", JobType: "SIMULATION",
			ErrorCode: "WORKER.STEP_FAILED", LastError: strings.Repeat("e\n", 200)})
	}
	subject, msg := snsMessage("d-1", entries)
	if subject != "JobWeaver: 25 new dead letters" {
		t.Errorf("subject = %q", subject)
	}
	if n := strings.Count(msg, "\n- "); n != snsMaxListed {
		t.Errorf("%d entries listed, want %d:\n%s", n, snsMaxListed, msg)
	}
	if !strings.Contains(msg, "... and 5 more.") || !strings.Contains(msg, "delivery d-1") || len(msg) > 256<<10 {
		t.Errorf("message:\n%s", msg)
	}
	if subject, _ := snsMessage("d-2", entries[:1]); subject != "JobWeaver: 1 new dead letter" {
		t.Errorf("subject = %q", subject)
	}
}
