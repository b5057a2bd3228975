package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/testwait"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// TestTickStartsTheDLQMaintenance: a tick starts the dlq's maintenance
// route (the real dlq, in-process), which finishes a bulk operation left
// running; the tick does not wait for it.
func TestTickStartsTheDLQMaintenance(t *testing.T) {
	pool := pgtest.Pool(t, dlq.Migrations())
	d, err := dlq.New(dlq.Config{}, &wiring.Deps{Pool: pool, Log: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	inv := &invoke.Local{}
	inv.Register(invoke.DLQ, trigger.HandleFunc(d.Handle))
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO dead_letters (event_id, trace_id, reason)
		SELECT gen_random_uuid(), 't', 'RETRIES_EXHAUSTED' FROM generate_series(1, 1200)`); err != nil {
		t.Fatal(err)
	}
	id, err := d.CreateOperation(ctx, internalapi.OperationRequest{Kind: internalapi.OperationDismiss, Filter: &dlq.Filter{}, By: "t"})
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, func(c *Config) { c.DLQ = inv })
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := b.svc.Tick(tctx); err != nil && tctx.Err() == nil {
		t.Fatal(err)
	}
	var op internalapi.Operation
	testwait.EventuallyState(t, 30*time.Second, "the tick's maintenance finishes the operation", func() bool {
		op, _ = d.GetOperation(ctx, id)
		return op.Status == internalapi.OperationCompleted
	}, func() string { return op.Status })
	if op.Done != 1200 {
		t.Fatalf("operation = %+v", op)
	}
}
