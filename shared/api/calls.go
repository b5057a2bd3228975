package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/invoke"
)

// callTimeout bounds one internal call; API Gateway itself gives up on an
// integration after 30 s.
const callTimeout = 10 * time.Second

// call sends an internal HTTP call to another function.
func (s *Service) call(ctx context.Context, function, method, path string, query url.Values, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return invoke.HTTP(ctx, s.inv, function, method, path, query, body)
}

var unavailableCodes = map[string]string{
	invoke.Scheduler: "API.SCHEDULER_UNAVAILABLE",
	invoke.Worker:    "API.WORKER_UNAVAILABLE",
	invoke.DLQ:       "API.DLQ_UNAVAILABLE",
}

// unavailable logs why an internal call failed and returns the 503 the
// client sees; the cause stays in the log.
func (s *Service) unavailable(ctx context.Context, function, path string, status int, body []byte, err error) error {
	var fe *invoke.FunctionError
	if errors.As(err, &fe) && fe.Type == invoke.ErrorTypeResponseTooLarge {
		// Retrying cannot help: the answer is over Lambda's 6 MB limit.
		s.log.WarnContext(ctx, "internal call's response is too large", "function", function, "path", path)
		return apierror.New(http.StatusUnprocessableEntity, "API.RESPONSE_TOO_LARGE",
			"the answer is larger than the 6 MB a function may return; ask for a smaller page (size)")
	}
	attrs := []any{"function", function, "path", path}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	} else {
		attrs = append(attrs, "status", status, "body", snippet(body))
	}
	s.log.WarnContext(ctx, "internal call failed", attrs...)
	return apierror.New(http.StatusServiceUnavailable, unavailableCodes[function],
		fmt.Sprintf("the %s function is unavailable; retry later", function))
}

// decodeOK decodes a 200 body into v; anything else is the function being
// unavailable.
func (s *Service) decodeOK(ctx context.Context, function, path string, status int, body []byte, v any) error {
	if status != http.StatusOK {
		return s.unavailable(ctx, function, path, status, body, nil)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return s.unavailable(ctx, function, path, status, body, fmt.Errorf("undecodable response: %w", err))
	}
	return nil
}

// errorMessage returns the message of an error body from another
// function, or "".
func errorMessage(body []byte) string {
	var b struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &b)
	return b.Message
}

func snippet(b []byte) string {
	const max = 512
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
