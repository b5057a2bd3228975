package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/strictjson"
)

// CallbackView is a WAITING job's open WAIT_FOR_CALLBACK wait, in
// GET /api/jobs/{id}: the token, the URL to POST the callback to, the
// step that waits, and when the wait times out.
type CallbackView struct {
	Token     string    `json:"token"`
	URL       string    `json:"url"`
	StepIndex int       `json:"stepIndex"`
	StepID    string    `json:"stepId,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// callbackTokenLen is a token's length as the scheduler makes them (32
// characters of URL-safe base64); any other is refused without a call.
const callbackTokenLen = 32

// callbackPath is the public route of a job's callback.
func callbackPath(jobID, token string) string {
	return "/api/jobs/" + jobID + "/callbacks/" + token
}

// callbackView shows a job's open wait, its URL on the origin r came to.
func callbackView(r *http.Request, jobID string, c *internalapi.CallbackWait) *CallbackView {
	if c == nil {
		return nil
	}
	u := callbackPath(jobID, c.Token)
	if r.Host != "" {
		scheme := "http"
		if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
			scheme = "https"
		}
		u = scheme + "://" + r.Host + u
	}
	return &CallbackView{Token: c.Token, URL: u, StepIndex: c.StepIndex, StepID: c.StepID, ExpiresAt: c.ExpiresAt}
}

// redactPath hides a callback token in a path that is logged.
func redactPath(p string) string {
	const mark = "/callbacks/"
	if i := strings.Index(p, mark); i >= 0 && strings.HasPrefix(p, "/api/jobs/") {
		return p[:i+len(mark)] + "[token]"
	}
	return p
}

func callbackNotFound() *apierror.Error {
	return apierror.New(http.StatusNotFound, "API.CALLBACK_NOT_FOUND",
		"no open callback with this token: the token is wrong, used or expired, or the job does not wait for a callback")
}

// postCallback is POST /api/jobs/{id}/callbacks/{token}: open (the token
// is the credential), any JSON body of at most envelope.MaxCallbackBytes.
// The scheduler takes it if the job waits with that token: 202
// {jobId, status: PENDING}. Every callback not taken is one 404
// API.CALLBACK_NOT_FOUND, and spends a token of the source address's
// failed-authentication bucket (ratelimit.go), so that tokens cannot be
// guessed at speed. The token is never logged.
func (s *Service) postCallback(w http.ResponseWriter, r *http.Request) error {
	if !s.authFailuresAllowed(w, r) {
		return nil // 429 written
	}
	body, err := readCallbackBody(w, r)
	if err != nil {
		return err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	token := r.PathValue("token")
	if err != nil || len(r.PathValue("id")) != 36 || !validToken(token) {
		return s.callbackRefused(r)
	}
	jobID := id.String()
	r = withJob(r, jobID)
	ctx := r.Context()
	req, err := envelope.JSON(internalapi.CallbackRequest{Token: token, Body: body})
	if err != nil {
		return apierror.New(http.StatusBadRequest, "API.INVALID_JSON", "the body must be one JSON value")
	}
	path := internalapi.JobCallbackPath(jobID)
	status, resp, err := s.call(ctx, invoke.Scheduler, http.MethodPost, path, nil, req)
	if err != nil {
		return s.unavailable(ctx, invoke.Scheduler, path, 0, nil, err)
	}
	switch status {
	case http.StatusAccepted:
		var acc internalapi.CallbackAccepted
		if err := json.Unmarshal(resp, &acc); err != nil || acc.JobID == "" {
			return s.unavailable(ctx, invoke.Scheduler, path, status, resp, fmt.Errorf("undecodable response: %v", err))
		}
		s.metrics.Count("CallbacksTaken", 1)
		s.log.InfoContext(ctx, "callback taken", "bytes", len(body))
		httpjson.Write(w, http.StatusAccepted, acc)
		return nil
	case http.StatusNotFound:
		return s.callbackRefused(r)
	case http.StatusBadRequest:
		return apierror.New(http.StatusBadRequest, "API.INVALID_JSON", errorMessage(resp))
	}
	return s.unavailable(ctx, invoke.Scheduler, path, status, resp, nil)
}

// callbackRefused spends a failure of r's source address and answers 404.
func (s *Service) callbackRefused(r *http.Request) error {
	if b := s.failBucket(r); b != nil {
		b.Allow()
	}
	s.metrics.Count("CallbacksRefused", 1)
	return callbackNotFound()
}

// validToken reports whether t has a token's form: callbackTokenLen
// characters of URL-safe base64.
func validToken(t string) bool {
	if len(t) != callbackTokenLen {
		return false
	}
	for _, c := range []byte(t) {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// readCallbackBody reads a callback's body: at most
// envelope.MaxCallbackBytes on the wire (413 API.PAYLOAD_TOO_LARGE past
// it), one JSON value that Postgres can store (400 API.INVALID_JSON
// otherwise), returned compact.
func readCallbackBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := apierror.New(http.StatusRequestEntityTooLarge, "API.PAYLOAD_TOO_LARGE",
		fmt.Sprintf("a callback's body must be at most %d bytes", envelope.MaxCallbackBytes))
	if r.ContentLength > envelope.MaxCallbackBytes {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, envelope.MaxCallbackBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge
	case err != nil:
		return nil, badRequest("could not read the request body: %v", err)
	}
	invalidJSON := func(why string) error {
		return apierror.New(http.StatusBadRequest, "API.INVALID_JSON",
			"a callback's body must be one JSON value (say {\"approved\": true}): "+why)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalidJSON("the body is empty")
	}
	if err := strictjson.CheckText(body); err != nil {
		return nil, invalidJSON("it holds " + err.Error() + "; send UTF-8 text without NUL characters")
	}
	// The step's output is kept as jsonb, which refuses these.
	if err := strictjson.CheckSurrogates(body); err != nil {
		return nil, invalidJSON("it holds " + err.Error() + "; send UTF-8 text")
	}
	var c bytes.Buffer
	if err := json.Compact(&c, body); err != nil {
		return nil, invalidJSON(err.Error())
	}
	return c.Bytes(), nil
}
