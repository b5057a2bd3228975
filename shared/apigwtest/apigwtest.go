// Package apigwtest builds API Gateway HTTP API (v2) events for tests: the
// request a function's Lambda handler receives, as API Gateway (or the
// local stack's HTTP front) would send it.
package apigwtest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// Event returns the event of a request for method and target (a path,
// with an optional "?query"), with a JSON body unless body is "".
func Event(method, target, body string) events.APIGatewayV2HTTPRequest {
	path, query, _ := strings.Cut(target, "?")
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: path, RawQueryString: query, Body: body,
		Headers: map[string]string{"accept": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "$default", Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, Protocol: "HTTP/1.1"},
		},
	}
	if body != "" {
		ev.Headers["content-type"] = "application/json"
	}
	return ev
}

// Payload is Event encoded as the JSON payload Lambda hands a handler.
func Payload(tb testing.TB, method, target, body string) []byte {
	tb.Helper()
	b, err := json.Marshal(Event(method, target, body))
	if err != nil {
		tb.Fatalf("apigwtest: encode the event: %v", err)
	}
	return b
}
