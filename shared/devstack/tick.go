package devstack

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/invoke"
)

// ScheduleRuleARN is the rule the local schedule events name.
const ScheduleRuleARN = "arn:aws:events:us-east-1:000000000000:rule/jobweaver-scheduler-tick"

// ScheduledEvent is the event an EventBridge schedule rule sends at t.
func ScheduledEvent(t time.Time) events.EventBridgeEvent {
	return events.EventBridgeEvent{
		Version:    "0",
		ID:         uuid.NewString(),
		DetailType: "Scheduled Event",
		Source:     "aws.events",
		AccountID:  "000000000000",
		Time:       t.UTC().Truncate(time.Second),
		Region:     "us-east-1",
		Resources:  []string{ScheduleRuleARN},
		Detail:     json.RawMessage(`{}`),
	}
}

// Ticker is the local EventBridge schedule: every Interval it invokes
// Function with a scheduled event and a deadline of Timeout (Interval if
// 0). Invocations never overlap: a tick that runs long delays the next
// one.
type Ticker struct {
	Invoker  invoke.Invoker
	Function string
	Interval time.Duration
	// Timeout bounds each invocation; 0 means Interval. A function that
	// runs elsewhere (in Lambda or its emulator) has a deadline of its
	// own, its timeout, which decides how long a tick runs.
	Timeout time.Duration
	Log     *slog.Logger
}

// Run ticks until ctx ends.
func (t *Ticker) Run(ctx context.Context) {
	tk := time.NewTicker(t.Interval)
	defer tk.Stop()
	var lastErr string
	var lastLogged time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tk.C:
			err := t.Once(ctx, now)
			switch {
			case err == nil:
				if lastErr != "" {
					t.Log.Info("scheduler tick recovered")
				}
				lastErr = ""
			case ctx.Err() != nil:
				return
			case err.Error() != lastErr || time.Since(lastLogged) > 30*time.Second:
				// The same failure every tick is logged every 30 s.
				t.Log.Warn("scheduler tick failed", "error", err.Error())
				lastErr, lastLogged = err.Error(), time.Now()
			}
		}
	}
}

// Once invokes one tick as of now.
func (t *Ticker) Once(ctx context.Context, now time.Time) error {
	payload, err := json.Marshal(ScheduledEvent(now))
	if err != nil {
		return err
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = t.Interval
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = invokeRecovered(tctx, t.Invoker, t.Function, payload, t.Log)
	return err
}
