package invoke

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// TestLocalStats: each invocation through Local is counted with its wall
// time, and billed rounded up to the millisecond, per function.
func TestLocalStats(t *testing.T) {
	var l Local
	l.Register("slow", lambda.NewHandler(func(ctx context.Context) (string, error) {
		time.Sleep(1500 * time.Microsecond)
		return "ok", nil
	}))
	l.Register("idle", lambda.NewHandler(func(ctx context.Context) (string, error) { return "ok", nil }))
	for i := 0; i < 3; i++ {
		if _, err := l.Invoke(context.Background(), "slow", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Invoke(context.Background(), "missing", []byte(`{}`)); err == nil {
		t.Fatal("invoking an unregistered function succeeded")
	}
	st := l.Stats()
	if len(st) != 2 {
		t.Fatalf("Stats has %d functions, want 2 (slow, idle): %v", len(st), st)
	}
	s := st["slow"]
	if s.Invocations != 3 || s.Duration < 4500*time.Microsecond {
		t.Fatalf("slow: %+v, want 3 invocations of at least 1.5 ms each", s)
	}
	if s.Billed < 6*time.Millisecond || s.Billed%time.Millisecond != 0 || s.Billed < s.Duration {
		t.Fatalf("slow billed %s for %s: want each call rounded up to whole ms (≥ 2 ms each)", s.Billed, s.Duration)
	}
	if st["idle"] != (CallStats{}) {
		t.Fatalf("idle: %+v, want no invocations", st["idle"])
	}
}
