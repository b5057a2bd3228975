package step

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/jobweaver/jobweaver/shared/webhook"
)

// HeaderJobID names the job of a WEBHOOK delivery.
const HeaderJobID = "X-JobWeaver-Job-Id"

// MaxSigningKeyNameBytes caps a signingKey name.
const MaxSigningKeyNameBytes = 64

// webhookStep is a WEBHOOK job's one step, its payload:
// {url, method?, headers?, body?, timeoutMs?, expectStatus?, signingKey?}.
// One delivery is one attempt. A status outside expectStatus (default
// 200-299) fails it, retryably. With signingKey, the request carries
// X-JobWeaver-Signature (webhook.Sign of the exact body bytes),
// X-JobWeaver-Job-Id and X-JobWeaver-Timestamp; the secret is looked up by
// name in the worker (Env.SigningKey), and an unknown name fails the job
// permanently. Its output is {status, headers, bytes}.
type webhookStep struct {
	URL          string            `json:"url"`
	Method       string            `json:"method,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`
	Body         json.RawMessage   `json:"body,omitempty"`
	TimeoutMs    *int64            `json:"timeoutMs,omitempty"`
	ExpectStatus []int             `json:"expectStatus,omitempty"`
	SigningKey   string            `json:"signingKey,omitempty"`
}

// webhookMethods are WEBHOOK's methods, the first its default.
var webhookMethods = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodGet}

// DefaultWebhookTimeoutMs is a delivery's timeout when none is given.
const DefaultWebhookTimeoutMs = 10_000

// ParseWebhook validates a WEBHOOK job's payload; its field errors name
// payload fields.
func ParseWebhook(raw json.RawMessage) (Step, error) {
	var s webhookStep
	if err := strict(raw, &s); err != nil {
		return nil, err
	}
	if s.URL == "" {
		return nil, invalid("url", "is required")
	}
	if err := checkRequest(s.URL, &s.Method, webhookMethods, s.Headers, s.Body); err != nil {
		return nil, err
	}
	if err := between("timeoutMs", s.TimeoutMs, 1, MaxHTTPTimeout, false); err != nil {
		return nil, err
	}
	if s.ExpectStatus != nil && (len(s.ExpectStatus) == 0 || len(s.ExpectStatus) > 50) {
		return nil, invalid("expectStatus", "must hold 1 to 50 status codes")
	}
	for _, c := range s.ExpectStatus {
		if c < 100 || c > 599 {
			return nil, invalid("expectStatus", "status codes must be between 100 and 599 (got %d)", c)
		}
	}
	if s.SigningKey != "" && !validID(s.SigningKey) {
		return nil, invalid("signingKey", "must be the name of a signing key: 1 to %d letters, digits, _ or -, starting with a letter or _", MaxSigningKeyNameBytes)
	}
	return &s, nil
}

func (s *webhookStep) Action() string { return "WEBHOOK" }

func (s *webhookStep) Simulated() int64 {
	if s.TimeoutMs != nil {
		return *s.TimeoutMs
	}
	return DefaultWebhookTimeoutMs
}

func (s *webhookStep) expected(code int) bool {
	if s.ExpectStatus == nil {
		return code >= 200 && code <= 299
	}
	for _, c := range s.ExpectStatus {
		if c == code {
			return true
		}
	}
	return false
}

func (s *webhookStep) Run(ctx context.Context, env Env) error {
	_, err := s.Produce(ctx, env)
	return err
}

// webhookOutput is a delivery's output.
type webhookOutput struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Bytes   int64             `json:"bytes"` // the response body's size (read up to 64 MiB)
}

func (s *webhookStep) Produce(ctx context.Context, env Env) (json.RawMessage, error) {
	var secret []byte
	if s.SigningKey != "" {
		var ok bool
		if env.SigningKey != nil {
			secret, ok = env.SigningKey(s.SigningKey)
		}
		if !ok {
			return nil, &CodedError{Code: CodeWebhookKeyUnknown, Permanent: true,
				Err: fmt.Errorf("%w: signingKey %q is not one of the worker's WEBHOOK_SIGNING_KEYS", ErrStepFailed, s.SigningKey)}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(s.Simulated())*time.Millisecond)
	defer cancel()
	body, ctype := requestBody(s.Body)
	req, err := http.NewRequestWithContext(ctx, s.Method, s.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStepFailed, err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	req.Header.Set("User-Agent", "JobWeaver-Webhook/1")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range s.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set(HeaderJobID, env.JobID)
	req.Header.Set(webhook.HeaderAttempt, strconv.Itoa(env.Attempt))
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(time.Now().Unix(), 10))
	if secret != nil {
		req.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, body))
	}
	if env.HTTP == nil {
		return nil, fmt.Errorf("%w: no HTTP client configured", ErrStepFailed)
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", ErrStepFailed, s.Method, s.URL, err)
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<20))
	out := marshal(webhookOutput{Status: resp.StatusCode, Headers: responseHeaders(resp.Header), Bytes: n})
	if !s.expected(resp.StatusCode) {
		want := "2xx"
		if s.ExpectStatus != nil {
			want = fmt.Sprint(s.ExpectStatus)
		}
		return out, &CodedError{Code: CodeWebhookStatus,
			Err: fmt.Errorf("%w: %s %s answered %d; expected %s", ErrStepFailed, s.Method, s.URL, resp.StatusCode, want)}
	}
	return out, nil
}
