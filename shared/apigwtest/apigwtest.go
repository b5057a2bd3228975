// Package apigwtest builds API Gateway HTTP API (v2) events for tests: the
// request a function's Lambda handler receives, as API Gateway (or the
// local stack's HTTP front) would send it.
package apigwtest

import (
	"context"
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

// Call hands the event to a function's handler (a service's Handle: a raw
// payload in, the response out) and returns the response's status and
// body. It fails the test if the handler fails or answers with anything
// but an API Gateway v2 response.
func Call(ctx context.Context, tb testing.TB, handle func(context.Context, json.RawMessage) (any, error), method, target, body string) (int, []byte) {
	tb.Helper()
	out, err := handle(ctx, Payload(tb, method, target, body))
	if err != nil {
		tb.Fatalf("%s %s: %v", method, target, err)
	}
	resp, ok := out.(events.APIGatewayV2HTTPResponse)
	if !ok {
		tb.Fatalf("%s %s: the handler answered with a %T, not an API Gateway v2 response", method, target, out)
	}
	return resp.StatusCode, []byte(resp.Body)
}
