package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/jobweaver/jobweaver/shared/invoke"
)

// invokeRecovered invokes function through inv. A panic of an in-process
// handler becomes an error, as Lambda reports a crashed function
// (Runtime.ExitError), and is logged with its stack: one bad invocation
// never takes the whole stack down. (The event-source mappings do the
// same in esm.)
func invokeRecovered(ctx context.Context, inv invoke.Invoker, function string, payload []byte, log *slog.Logger) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			if log != nil {
				log.Error("function panicked", "function", function, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			}
			out, err = nil, fmt.Errorf("devstack: the %s function panicked: %v", function, r)
		}
	}()
	return inv.Invoke(ctx, function, payload)
}
