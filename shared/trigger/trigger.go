// Package trigger tells which AWS event a raw Lambda payload is (Detect),
// so that a function fed by several triggers (the scheduler: a schedule,
// Kafka and internal HTTP calls) can route it to the handler of that kind
// (Router).
package trigger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// Kind is a trigger kind.
type Kind string

// The kinds a JobWeaver function receives.
const (
	HTTP     Kind = "apigateway-v2" // events.APIGatewayV2HTTPRequest
	Kafka    Kind = "kafka"         // events.KafkaEvent
	Schedule Kind = "schedule"      // events.EventBridgeEvent from a schedule rule
	SQS      Kind = "sqs"           // events.SQSEvent
	Unknown  Kind = "unknown"
)

type probe struct {
	Version        string          `json:"version"`
	RouteKey       *string         `json:"routeKey"`
	RequestContext json.RawMessage `json:"requestContext"`
	EventSource    string          `json:"eventSource"`
	Records        json.RawMessage `json:"records"`
	DetailType     *string         `json:"detail-type"`
	Source         string          `json:"source"`
}

// kafkaPrefixes start the events of an event-source mapping as AWS and
// the local stack write them (eventSource first); they let Detect skip a
// full parse of what is usually the largest payload.
var kafkaPrefixes = [][]byte{[]byte(`{"eventSource":"aws:kafka"`), []byte(`{"eventSource":"SelfManagedKafka"`)}

// Detect returns the kind of payload, or an error if it is not a JSON
// object.
func Detect(payload []byte) (Kind, error) {
	for _, p := range kafkaPrefixes {
		if bytes.HasPrefix(payload, p) {
			return Kafka, nil
		}
	}
	if t := bytes.TrimLeft(payload, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		// null, arrays and scalars unmarshal into a struct without error
		// (null) or with a confusing one; none of them is an event.
		return Unknown, fmt.Errorf("trigger: payload is not a JSON object")
	}
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return Unknown, fmt.Errorf("trigger: payload is not a JSON object: %w", err)
	}
	switch {
	case p.EventSource == "aws:kafka" || p.EventSource == "SelfManagedKafka" || (p.EventSource == "" && len(p.Records) > 0 && p.Records[0] == '{'):
		return Kafka, nil
	case sqsRecords(p.Records):
		return SQS, nil
	case p.DetailType != nil:
		return Schedule, nil
	case p.RouteKey != nil && len(p.RequestContext) > 0:
		return HTTP, nil
	}
	return Unknown, nil
}

// sqsRecords reports whether records is an SQS event's
// [{"eventSource": "aws:sqs", ...}, ...].
func sqsRecords(records json.RawMessage) bool {
	if len(records) == 0 || records[0] != '[' {
		return false
	}
	var recs []struct {
		EventSource string `json:"eventSource"`
	}
	return json.Unmarshal(records, &recs) == nil && len(recs) > 0 && recs[0].EventSource == "aws:sqs"
}

// HandleFunc is a function's entry point over its raw payload. As a
// lambda.Handler it hands the payload over as it arrived, with no decoding
// pass of its own: Lambda's reflection-based adapter would first validate
// and copy the whole payload into a json.RawMessage.
type HandleFunc func(ctx context.Context, payload json.RawMessage) (any, error)

// Invoke implements lambda.Handler.
func (f HandleFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := f(ctx, payload)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}
