package invoke

import (
	"context"
	"fmt"
	"net/url"
	"time"

	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// AsyncInvoker starts an invocation without waiting for it: Lambda's
// InvocationType Event, or a goroutine in-process.
type AsyncInvoker interface {
	InvokeAsync(ctx context.Context, function string, payload []byte) error
}

// asyncTimeout bounds an in-process asynchronous invocation (Lambda's
// own bound is the function's timeout).
const asyncTimeout = 15 * time.Minute

// InvokeAsync implements AsyncInvoker: the handler runs in a goroutine,
// detached from ctx's cancellation, and its result is dropped.
func (l *Local) InvokeAsync(ctx context.Context, function string, payload []byte) error {
	l.mu.RLock()
	h := l.handlers[function]
	l.mu.RUnlock()
	if h == nil {
		return fmt.Errorf("invoke: no local function %q", function)
	}
	go func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), asyncTimeout)
		defer cancel()
		_, _ = h.Invoke(actx, payload)
	}()
	return nil
}

// InvokeAsync implements AsyncInvoker: an asynchronous (Event)
// invocation, which Lambda queues and answers 202 at once.
func (l *Lambda) InvokeAsync(ctx context.Context, function string, payload []byte) error {
	name := l.Functions[function]
	if name == "" {
		return fmt.Errorf("invoke: no deployed function configured for %q", function)
	}
	if _, err := l.Client.Invoke(ctx, &awslambda.InvokeInput{
		FunctionName:   &name,
		InvocationType: types.InvocationTypeEvent,
		Payload:        payload,
	}); err != nil {
		return fmt.Errorf("invoke: %s (%s) asynchronously: %w", function, name, err)
	}
	return nil
}

// HTTPAsync sends an internal HTTP call to function without waiting for
// its answer: through inv's InvokeAsync when it is an AsyncInvoker, else
// in a goroutine that makes the call and drops the answer.
func HTTPAsync(ctx context.Context, inv Invoker, function, method, path string, query url.Values, body []byte) error {
	payload, err := httpEvent(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	if a, ok := inv.(AsyncInvoker); ok {
		return a.InvokeAsync(ctx, function, payload)
	}
	go func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), asyncTimeout)
		defer cancel()
		_, _ = inv.Invoke(actx, function, payload)
	}()
	return nil
}
