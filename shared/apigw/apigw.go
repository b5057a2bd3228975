// Package apigw adapts net/http handlers to API Gateway HTTP API (payload
// format 2.0) events and back. Lambda reaches a handler through Handler;
// the local stack turns real HTTP requests into the same events with
// FromHTTP and writes the responses back with WriteHTTP.
package apigw

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
)

// Handler returns a Lambda handler function that serves API Gateway v2
// events with h.
func Handler(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return Serve(ctx, h, ev)
	}
}

// Serve runs one event through h.
func Serve(ctx context.Context, h http.Handler, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	req, err := ToRequest(ctx, ev)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return FromRecorder(rec), nil
}

// ToRequest converts an event to an *http.Request.
func ToRequest(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		return nil, fmt.Errorf("apigw: event has no requestContext.http.method")
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	if path == "" {
		path = "/"
	}
	// rawPath is the path as sent, still percent-encoded; requestContext's
	// path is decoded. Keep both forms so that %2F and spaces survive.
	u := &url.URL{Path: path, RawQuery: ev.RawQueryString}
	if ev.RawPath != "" {
		if p, err := url.PathUnescape(ev.RawPath); err == nil {
			u.Path, u.RawPath = p, ev.RawPath
		}
	}
	var body []byte
	if ev.Body != "" {
		if ev.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(ev.Body)
			if err != nil {
				return nil, fmt.Errorf("apigw: body is not valid base64: %w", err)
			}
			body = b
		} else {
			body = []byte(ev.Body)
		}
	}
	if a := ev.RequestContext.Authorizer; a != nil && a.JWT != nil {
		if c := cmp.Or(a.JWT.Claims["client_id"], a.JWT.Claims["sub"]); c != "" {
			ctx = context.WithValue(ctx, callerKey{}, c)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("apigw: build request: %w", err)
	}
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	req.Host = ev.RequestContext.DomainName
	req.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	req.RequestURI = u.RequestURI()
	req.ContentLength = int64(len(body))
	return req, nil
}

type callerKey struct{}

// Caller is who API Gateway's JWT authorizer let the request in as: the
// token's client_id claim (an app client, client credentials grant), else
// its sub. It is "" when no authorizer ran, as in the local stack.
func Caller(ctx context.Context) string {
	c, _ := ctx.Value(callerKey{}).(string)
	return c
}

// FromRecorder converts a recorded response to an event response. Bodies
// that are not UTF-8 text are base64-encoded.
func FromRecorder(rec *httptest.ResponseRecorder) events.APIGatewayV2HTTPResponse {
	resp := events.APIGatewayV2HTTPResponse{StatusCode: rec.Code, Headers: map[string]string{}}
	for k, v := range rec.Header() {
		if strings.EqualFold(k, "Set-Cookie") {
			resp.Cookies = append(resp.Cookies, v...)
			continue
		}
		resp.Headers[k] = strings.Join(v, ",")
	}
	b := rec.Body.Bytes()
	if utf8.Valid(b) {
		resp.Body = string(b)
	} else {
		resp.Body = base64.StdEncoding.EncodeToString(b)
		resp.IsBase64Encoded = true
	}
	return resp
}

// FromHTTP converts an incoming HTTP request to the event API Gateway would
// send, reading at most limit bytes of body (the rest is dropped and
// truncated is true, so the handler can answer 413).
func FromHTTP(r *http.Request, stage string, limit int64) (ev events.APIGatewayV2HTTPRequest, truncated bool, err error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return ev, false, fmt.Errorf("apigw: read body: %w", err)
	}
	if int64(len(body)) > limit {
		truncated = true
	}
	headers := make(map[string]string, len(r.Header))
	for k, v := range r.Header {
		if strings.EqualFold(k, "Cookie") {
			continue
		}
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	var cookies []string
	for _, c := range r.Cookies() {
		cookies = append(cookies, c.String())
	}
	var qs map[string]string
	if q := r.URL.Query(); len(q) > 0 {
		qs = make(map[string]string, len(q))
		for k, v := range q {
			qs[k] = strings.Join(v, ",")
		}
	}
	now := time.Now()
	if stage == "" {
		stage = "$default"
	}
	ev = events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              "$default",
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: qs,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     "$default",
			AccountID:    "000000000000",
			Stage:        stage,
			RequestID:    uuid.NewString(),
			APIID:        "local",
			DomainName:   r.Host,
			DomainPrefix: strings.Split(r.Host, ".")[0],
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  hostOnly(r.RemoteAddr),
				UserAgent: r.UserAgent(),
			},
		},
	}
	if !truncated && len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev, truncated, nil
}

// WriteHTTP writes an event response to w.
func WriteHTTP(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func hostOnly(addr string) string {
	if i := strings.LastIndex(addr, ":"); i > 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}
