package apigw_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jobweaver/jobweaver/shared/apigw"
)

// roundTrip sends r through FromHTTP (as the local stack does), JSON (as
// Lambda does) and ToRequest (as a function does).
func roundTrip(t *testing.T, r *http.Request, limit int64) (*http.Request, events.APIGatewayV2HTTPRequest) {
	t.Helper()
	ev, truncated, err := apigw.FromHTTP(r, "", limit)
	if err != nil {
		t.Fatalf("FromHTTP: %v", err)
	}
	if truncated {
		t.Fatalf("FromHTTP truncated a body within the limit")
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var back events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	req, err := apigw.ToRequest(context.Background(), back)
	if err != nil {
		t.Fatalf("ToRequest: %v", err)
	}
	return req, ev
}

func TestRequestRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, method, target, contentType string
		body                              []byte
		wantBase64                        bool
	}{
		{"post json", http.MethodPost, "/api/jobs", "application/json", []byte(`{"jobType":"SIMULATION","note":"é ✓"}`), false},
		{"get with query", http.MethodGet, "/api/jobs?page=0&size=20&type=SIMULATION&status=PENDING&status=RUNNING", "", nil, false},
		{"escaped query", http.MethodGet, "/api/jobs?createdFrom=2024-01-01T00%3A00%3A00%2B01%3A00&q=a+b", "", nil, false},
		{"delete", http.MethodDelete, "/api/jobs/0190a6c4-5a5e-7cc2-a1f2-4a4b6a0f2d11", "", nil, false},
		{"escaped path", http.MethodGet, "/files/a%20b/c%2Fd", "", nil, false},
		{"binary body", http.MethodPut, "/blob", "application/octet-stream", []byte{0x00, 0xff, 0xfe, 0x80, 'a', 0x00}, true},
		{"empty body", http.MethodPost, "/api/jobs", "application/json", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://api.local:8080"+tc.target, bytes.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			r.Header.Set("X-Trace-Id", "trace-1")
			r.Header.Add("Accept", "application/json")
			r.Header.Add("Accept", "text/plain")
			r.AddCookie(&http.Cookie{Name: "a", Value: "1"})
			r.AddCookie(&http.Cookie{Name: "b", Value: "2"})

			req, ev := roundTrip(t, r, 1<<20)
			if ev.IsBase64Encoded != tc.wantBase64 {
				t.Errorf("isBase64Encoded = %v, want %v", ev.IsBase64Encoded, tc.wantBase64)
			}
			if ev.RequestContext.HTTP.Method != tc.method || ev.Headers["x-trace-id"] != "trace-1" {
				t.Errorf("event = %+v", ev)
			}
			if req.Method != tc.method {
				t.Errorf("method = %s, want %s", req.Method, tc.method)
			}
			if req.URL.Path != r.URL.Path || req.URL.EscapedPath() != r.URL.EscapedPath() {
				t.Errorf("path = %q (escaped %q), want %q (escaped %q)", req.URL.Path, req.URL.EscapedPath(), r.URL.Path, r.URL.EscapedPath())
			}
			if !reflect.DeepEqual(req.URL.Query(), r.URL.Query()) {
				t.Errorf("query = %v, want %v", req.URL.Query(), r.URL.Query())
			}
			if req.RequestURI != r.URL.RequestURI() {
				t.Errorf("RequestURI = %q, want %q", req.RequestURI, r.URL.RequestURI())
			}
			if got := req.Header.Get("X-Trace-Id"); got != "trace-1" {
				t.Errorf("X-Trace-Id = %q", got)
			}
			if got := req.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tc.contentType)
			}
			if got := req.Header.Get("Accept"); got != "application/json,text/plain" {
				t.Errorf("Accept = %q, want both values", got)
			}
			if c, err := req.Cookie("b"); err != nil || c.Value != "2" {
				t.Errorf("cookie b = %v, %v", c, err)
			}
			body, _ := io.ReadAll(req.Body)
			if !bytes.Equal(body, tc.body) {
				t.Errorf("body = %q, want %q", body, tc.body)
			}
			if req.ContentLength != int64(len(tc.body)) {
				t.Errorf("ContentLength = %d, want %d", req.ContentLength, len(tc.body))
			}
			if req.Host != "api.local:8080" {
				t.Errorf("Host = %q", req.Host)
			}
		})
	}
}

func TestFromHTTPTruncatesOverLimit(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodPost, "/api/jobs", strings.NewReader(strings.Repeat("x", 11)))
	ev, truncated, err := apigw.FromHTTP(r, "prod", 10)
	if err != nil || !truncated {
		t.Fatalf("FromHTTP = truncated %v, %v; want truncated", truncated, err)
	}
	if ev.Body != "" || ev.RequestContext.Stage != "prod" {
		t.Fatalf("event = body %q stage %q", ev.Body, ev.RequestContext.Stage)
	}
	r = httptest.NewRequest(http.MethodPost, "/api/jobs", strings.NewReader(strings.Repeat("x", 10)))
	ev, truncated, err = apigw.FromHTTP(r, "", 10)
	if err != nil || truncated || len(ev.Body) != 10 || ev.RequestContext.Stage != "$default" {
		t.Fatalf("at the limit: truncated %v, body %d bytes, stage %q, %v", truncated, len(ev.Body), ev.RequestContext.Stage, err)
	}
}

func TestToRequestErrors(t *testing.T) {
	t.Parallel()
	if _, err := apigw.ToRequest(context.Background(), events.APIGatewayV2HTTPRequest{}); err == nil {
		t.Error("ToRequest accepted an event without a method")
	}
	ev := events.APIGatewayV2HTTPRequest{Body: "%%%", IsBase64Encoded: true}
	ev.RequestContext.HTTP.Method = http.MethodPost
	if _, err := apigw.ToRequest(context.Background(), ev); err == nil {
		t.Error("ToRequest accepted a body that is not base64")
	}
	// A path only in requestContext, or none at all.
	ev = events.APIGatewayV2HTTPRequest{}
	ev.RequestContext.HTTP.Method = http.MethodGet
	ev.RequestContext.HTTP.Path = "/health"
	if r, err := apigw.ToRequest(context.Background(), ev); err != nil || r.URL.Path != "/health" {
		t.Errorf("ToRequest path from requestContext = %v, %v", r.URL, err)
	}
	ev.RequestContext.HTTP.Path = ""
	if r, err := apigw.ToRequest(context.Background(), ev); err != nil || r.URL.Path != "/" {
		t.Errorf("ToRequest without a path = %v, %v", r.URL, err)
	}
}

func TestResponseRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		status     int
		body       []byte
		wantBase64 bool
	}{
		{"json", http.StatusAccepted, []byte(`{"jobId":"x"}` + "\n"), false},
		{"binary", http.StatusOK, []byte{0xff, 0x00, 0xfe}, true},
		{"empty", http.StatusNoContent, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Add("Vary", "Accept")
				w.Header().Add("Vary", "Origin")
				http.SetCookie(w, &http.Cookie{Name: "s", Value: "1"})
				http.SetCookie(w, &http.Cookie{Name: "t", Value: "2"})
				w.WriteHeader(tc.status)
				_, _ = w.Write(tc.body)
			})
			ev := events.APIGatewayV2HTTPRequest{RawPath: "/x"}
			ev.RequestContext.HTTP.Method = http.MethodGet
			resp, err := apigw.Serve(context.Background(), h, ev)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || resp.IsBase64Encoded != tc.wantBase64 {
				t.Fatalf("response = %d base64 %v", resp.StatusCode, resp.IsBase64Encoded)
			}
			if resp.Headers["Content-Type"] != "application/json" || resp.Headers["Vary"] != "Accept,Origin" {
				t.Errorf("headers = %v", resp.Headers)
			}
			if _, ok := resp.Headers["Set-Cookie"]; ok || !reflect.DeepEqual(resp.Cookies, []string{"s=1", "t=2"}) {
				t.Errorf("cookies = %v, headers = %v", resp.Cookies, resp.Headers)
			}
			if tc.wantBase64 {
				if b, _ := base64.StdEncoding.DecodeString(resp.Body); !bytes.Equal(b, tc.body) {
					t.Errorf("body = %q", resp.Body)
				}
			}

			// Through JSON and back onto a real writer.
			b, _ := json.Marshal(resp)
			var back events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			apigw.WriteHTTP(w, back)
			if w.Code != tc.status || !bytes.Equal(w.Body.Bytes(), tc.body) {
				t.Errorf("WriteHTTP = %d %q, want %d %q", w.Code, w.Body.Bytes(), tc.status, tc.body)
			}
			if w.Header().Get("Content-Type") != "application/json" || len(w.Header().Values("Set-Cookie")) != 2 {
				t.Errorf("WriteHTTP headers = %v", w.Header())
			}
		})
	}
}

func TestWriteHTTPDefaultsTo200(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	apigw.WriteHTTP(w, events.APIGatewayV2HTTPResponse{Body: "ok"})
	if w.Code != http.StatusOK || w.Body.String() != "ok" {
		t.Fatalf("WriteHTTP = %d %q", w.Code, w.Body.String())
	}
}

// Handler is what lambda.Start gets: the same as Serve.
func TestHandler(t *testing.T) {
	t.Parallel()
	h := apigw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	}))
	ev := events.APIGatewayV2HTTPRequest{RawPath: "/a/b", RawQueryString: "x=1"}
	ev.RequestContext.HTTP.Method = http.MethodHead
	resp, err := h(context.Background(), ev)
	if err != nil || resp.Body != "HEAD /a/b?x=1" {
		t.Fatalf("Handler = %+v, %v", resp, err)
	}
}

func TestCaller(t *testing.T) {
	t.Parallel()
	jwt := func(claims map[string]string) *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
		return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
		}
	}
	for _, c := range []struct {
		name string
		auth *events.APIGatewayV2HTTPRequestContextAuthorizerDescription
		want string
	}{
		{"no authorizer", nil, ""},
		{"client credentials token", jwt(map[string]string{"client_id": "4sf1", "sub": "4sf1", "scope": "jobweaver/write"}), "4sf1"},
		{"user token", jwt(map[string]string{"sub": "u-17"}), "u-17"},
		{"no identifying claim", jwt(map[string]string{"scope": "x"}), ""},
		{"lambda authorizer", &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: map[string]any{"id": "x"}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := events.APIGatewayV2HTTPRequest{RawPath: "/api/jobs"}
			ev.RequestContext.HTTP.Method = http.MethodGet
			ev.RequestContext.Authorizer = c.auth
			req, err := apigw.ToRequest(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if got := apigw.Caller(req.Context()); got != c.want {
				t.Fatalf("Caller = %q, want %q", got, c.want)
			}
		})
	}
}
