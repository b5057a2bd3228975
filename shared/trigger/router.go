package trigger

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jobweaver/jobweaver/shared/apigw"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/tracing"
)

// Router is the entry point of a function fed by several triggers: it
// tells the kind of a raw payload (Detect), decodes it into aws-lambda-go's
// event type and hands it to the handler of that kind. A nil handler is a
// trigger the function does not take, and its payloads are errors.
//
// Every error starts with Name: "worker: decode Kafka event: ...".
type Router struct {
	Name string
	// Kafka takes an event-source mapping's batch; the invocation's
	// result is null.
	Kafka func(context.Context, events.KafkaEvent) error
	// Schedule runs for an EventBridge scheduled event; its result is the
	// invocation's.
	Schedule func(context.Context) (any, error)
	// HTTP serves API Gateway HTTP API (v2) requests, through apigw.Serve.
	HTTP http.Handler
	// SQS takes a queue's batch; its response lists the messages to
	// deliver again (ReportBatchItemFailures).
	SQS func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
}

// Handle routes payload; it is a HandleFunc.
func (r Router) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	kind, err := Detect(payload)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Name, err)
	}
	switch {
	case kind == Kafka && r.Kafka != nil:
		ev, err := kafka.DecodeEvent(payload)
		if err != nil {
			return nil, fmt.Errorf("%s: decode Kafka event: %w", r.Name, err)
		}
		ctx, end := tracing.Invocation(ctx, r.Name, &ev)
		err = r.Kafka(ctx, ev)
		end(err)
		return nil, err
	case kind == Schedule && r.Schedule != nil:
		return r.Schedule(ctx)
	case kind == HTTP && r.HTTP != nil:
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("%s: decode API Gateway event: %w", r.Name, err)
		}
		return apigw.Serve(ctx, r.HTTP, ev)
	case kind == SQS && r.SQS != nil:
		var ev events.SQSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("%s: decode SQS event: %w", r.Name, err)
		}
		return r.SQS(ctx, ev)
	}
	return nil, fmt.Errorf("%s: unsupported trigger payload (not %s)", r.Name, r.takes())
}

// takes lists the triggers r takes: "Kafka, schedule or API Gateway v2"
// ("any trigger" if none).
func (r Router) takes() string {
	var kinds []string
	if r.Kafka != nil {
		kinds = append(kinds, "Kafka")
	}
	if r.Schedule != nil {
		kinds = append(kinds, "schedule")
	}
	if r.HTTP != nil {
		kinds = append(kinds, "API Gateway v2")
	}
	if r.SQS != nil {
		kinds = append(kinds, "SQS")
	}
	switch len(kinds) {
	case 0:
		return "any trigger"
	case 1:
		return kinds[0]
	}
	return strings.Join(kinds[:len(kinds)-1], ", ") + " or " + kinds[len(kinds)-1]
}
