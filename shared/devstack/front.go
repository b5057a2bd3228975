package devstack

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/apigw"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// bodySlack is read beyond the API's body limit, so that the api function
// itself answers bodies just over its limit; the front answers 413 only
// for bodies it will not carry at all.
const bodySlack = 64 << 10

// Front is the local API Gateway: it turns each HTTP request into an API
// Gateway HTTP API (v2) event, invokes Function with it, and writes back
// the function's response.
type Front struct {
	Invoker  invoke.Invoker
	Function string
	// Namespace prefixes the error codes the front answers itself (API,
	// SCHEDULER, WORKER).
	Namespace string
	// BodyLimit is the function's own body limit. The front carries up to
	// 64 KiB more, so that the function answers bodies just over it
	// itself, and answers larger ones 413 without invoking.
	BodyLimit int64
	// Timeout is each invocation's deadline.
	Timeout time.Duration
	// Internal restricts the front to the internal routes (/internal/...)
	// and health (/health, /actuator/health), and to clients on this
	// machine: a peer that is not a loopback address gets 403
	// <Namespace>.FORBIDDEN, whatever address the front listens on.
	Internal bool
	// Secret, if set, is the stack's internal secret: on an Internal
	// front, every request but GET and HEAD (the writes, such as a
	// cancel) must carry it in InternalSecretHeader, or gets 403
	// <Namespace>.FORBIDDEN. The header never reaches the function.
	Secret string
	// SecretOnReads asks for Secret on reads too (health aside): set when
	// the public API checks credentials (API_AUTH is not none), so that
	// the internal reads are no way around its roles. With API_AUTH=none
	// the public API answers anyone anyway, and the original client
	// collection reads the internal routes without a secret.
	SecretOnReads bool
	Log           *slog.Logger
}

// InternalSecretHeader carries the stack's internal secret (its state
// file's internalSecret) on writes to the internal routes.
const InternalSecretHeader = "X-Jobweaver-Internal-Secret"

func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The trace ID of the errors the front answers itself; the request
	// goes to the function as the client sent it.
	// An invalid X-Trace-Id is never echoed or logged (trace.ValidID).
	traceID, _ := trace.FromHeader(r.Header)
	secret := r.Header.Get(InternalSecretHeader)
	r.Header.Del(InternalSecretHeader)
	if f.Internal {
		if !loopbackPeer(r.RemoteAddr) {
			f.log().Warn("internal route refused to a client that is not on this machine", "function", f.Function, "method", r.Method, "path", r.URL.Path, "peer", r.RemoteAddr)
			f.fail(w, traceID, http.StatusForbidden, "FORBIDDEN",
				fmt.Sprintf("the %s's internal routes answer only clients on this machine (loopback); the public API is on API_ADDR", strings.ToLower(f.Namespace)))
			return
		}
		if !internalPath(r.URL.Path) {
			f.fail(w, traceID, http.StatusNotFound, "NOT_FOUND",
				fmt.Sprintf("%s serves only its internal routes (/internal/...); the public API is on API_ADDR", strings.ToLower(f.Namespace)))
			return
		}
		if f.Secret != "" && f.needsSecret(r) &&
			subtle.ConstantTimeCompare([]byte(secret), []byte(f.Secret)) != 1 {
			f.fail(w, traceID, http.StatusForbidden, "FORBIDDEN",
				fmt.Sprintf("%s %s needs the local stack's internal secret: send the header %s with internalSecret from DATA_DIR/%s (or use the public API on API_ADDR)", r.Method, r.URL.Path, InternalSecretHeader, stateName))
			return
		}
	}
	ev, truncated, err := apigw.FromHTTP(r, "$default", f.BodyLimit+bodySlack)
	if err != nil {
		f.fail(w, traceID, http.StatusBadRequest, "INVALID_REQUEST", "the request body could not be read")
		return
	}
	if truncated {
		f.fail(w, traceID, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE",
			fmt.Sprintf("the request body must be at most %d bytes", f.BodyLimit))
		return
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		f.fail(w, traceID, http.StatusInternalServerError, "INTERNAL_ERROR", "the request could not be encoded")
		return
	}
	// Like Lambda behind API Gateway, the function runs to completion
	// even if the client goes away; it has its own deadline.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), f.timeout())
	defer cancel()
	out, err := invokeRecovered(ctx, f.Invoker, f.Function, payload, f.log())
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			f.fail(w, traceID, http.StatusGatewayTimeout, "GATEWAY_TIMEOUT",
				fmt.Sprintf("the %s function did not answer within %s", f.Function, f.timeout()))
			return
		}
		var fe *invoke.FunctionError
		if errors.As(err, &fe) {
			switch fe.Type {
			case invoke.ErrorTypeResponseTooLarge:
				f.log().Warn("function response over the Lambda limit", "function", f.Function, "method", r.Method, "path", r.URL.Path, "traceId", traceID, "error", err.Error())
				f.fail(w, traceID, http.StatusBadGateway, "RESPONSE_TOO_LARGE",
					fmt.Sprintf("the %s function's response exceeded the 6 MB Lambda response limit; ask for less (a smaller page size)", f.Function))
				return
			case invoke.ErrorTypeTimeout:
				f.fail(w, traceID, http.StatusGatewayTimeout, "GATEWAY_TIMEOUT",
					fmt.Sprintf("the %s function timed out", f.Function))
				return
			}
		}
		f.log().Error("function invocation failed", "function", f.Function, "method", r.Method, "path", r.URL.Path, "traceId", traceID, "error", err.Error())
		f.fail(w, traceID, http.StatusInternalServerError, "INTERNAL_ERROR",
			"an internal error occurred; retry later, and quote the traceId if it persists")
		return
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		f.log().Error("function answered with something other than an API Gateway v2 response", "function", f.Function, "error", err.Error())
		f.fail(w, traceID, http.StatusBadGateway, "BAD_GATEWAY", "the function's response could not be read")
		return
	}
	apigw.WriteHTTP(w, resp)
}

func (f *Front) timeout() time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return 60 * time.Second
}

func (f *Front) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (f *Front) fail(w http.ResponseWriter, traceID string, status int, code, msg string) {
	ns := f.Namespace
	if ns == "" {
		ns = "API"
	}
	w.Header().Set(trace.HTTPHeader, traceID)
	apierror.WriteBody(w, apierror.Body{
		Timestamp: time.Now().UTC(),
		Status:    status,
		ErrorCode: ns + "." + code,
		Message:   msg,
		TraceID:   traceID,
	})
}

// needsSecret reports whether r must carry the internal secret: every
// write, and with SecretOnReads every read but health.
func (f *Front) needsSecret(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return true
	}
	return f.SecretOnReads && r.URL.Path != "/health" && r.URL.Path != "/actuator/health"
}

func internalPath(p string) bool {
	return strings.HasPrefix(p, "/internal/") || p == "/internal" ||
		p == "/health" || p == "/actuator/health" || strings.HasPrefix(p, "/actuator/health/")
}

// loopbackPeer reports whether remoteAddr (http.Request.RemoteAddr) is a
// loopback address.
func loopbackPeer(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// loopbackListener reports whether ln accepts only loopback clients.
func loopbackListener(ln net.Listener) bool {
	a, ok := ln.Addr().(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

// listen binds addr for the variable named name, with a clear error.
func listen(name, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("devstack: %s %s: %v (set %s to another address)", name, addr, err, name)
	}
	return ln, nil
}

// httpURL is the URL a client uses to reach ln.
func httpURL(ln net.Listener) string {
	a := ln.Addr().(*net.TCPAddr)
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "localhost"
	}
	return fmt.Sprintf("http://%s", net.JoinHostPort(host, fmt.Sprint(a.Port)))
}
