package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// smoke runs the checks against one deployment's API.
type smoke struct {
	api   string // the API's base URL, without a trailing slash
	token string // a Cognito access token; "" for none
	// adminKey is an admin API key (the stage's first, from its secret):
	// the checks of API keys make a viewer key with it. "" skips them.
	adminKey string
	http     *http.Client
	wait     time.Duration // how long a job may take to get where a check wants it
	poll     time.Duration
	// revokeWithin is how long a revoked key may still work (the api's
	// key cache, API_KEY_CACHE_TTL, at most 10 s).
	revokeWithin time.Duration
}

// bearer is the credential the job checks send: the token, else the
// admin key, else none.
func (s *smoke) bearer() string {
	if s.token != "" {
		return s.token
	}
	return s.adminKey
}

// check is one step; its detail goes in the table.
type check struct {
	name string
	run  func(ctx context.Context) (detail string, err error)
}

// result is a check's outcome.
type result struct {
	name, detail string
	err          error
	took         time.Duration
}

// checks are the steps, in order: each needs the ones before.
func (s *smoke) checks() []check {
	var okJob, failJob string
	cs := []check{
		{"health", func(ctx context.Context) (string, error) {
			var h struct{ Status string }
			if err := s.call(ctx, http.MethodGet, "/health", "", false, http.StatusOK, &h); err != nil {
				return "", err
			}
			if h.Status != "UP" {
				return "", fmt.Errorf("status %q, want UP", h.Status)
			}
			return "UP", nil
		}},
	}
	if s.bearer() != "" {
		cs = append(cs, check{"refuses a call without a token", func(ctx context.Context) (string, error) {
			return "401", s.call(ctx, http.MethodGet, "/api/jobs?size=1", "", false, http.StatusUnauthorized, nil)
		}})
	}
	if s.adminKey != "" {
		cs = append(cs, s.keyChecks()...)
	}
	return append(cs,
		check{"submits a job", func(ctx context.Context) (string, error) {
			id, err := s.submit(ctx, `{"action":"LOG","message":"jobweaver smoke test"},{"action":"COMPUTE","iterations":1000}`, 1)
			okJob = id
			return id, err
		}},
		check{"runs it to COMPLETED", func(ctx context.Context) (string, error) {
			return s.waitStatus(ctx, okJob, "COMPLETED")
		}},
		check{"lists its execution", func(ctx context.Context) (string, error) {
			var page struct {
				Content []struct {
					Status string
					Steps  []json.RawMessage
				}
			}
			if err := s.call(ctx, http.MethodGet, "/api/jobs/"+okJob+"/executions", "", true, http.StatusOK, &page); err != nil {
				return "", err
			}
			if len(page.Content) == 0 || page.Content[0].Status != "COMPLETED" || len(page.Content[0].Steps) != 2 {
				return "", fmt.Errorf("executions %+v, want one COMPLETED with 2 steps", page.Content)
			}
			return fmt.Sprintf("%d execution, %d steps", len(page.Content), len(page.Content[0].Steps)), nil
		}},
		check{"fails a FAIL job without retries", func(ctx context.Context) (string, error) {
			id, err := s.submit(ctx, `{"action":"FAIL","message":"jobweaver smoke test: meant to fail"}`, 0)
			if err != nil {
				return "", err
			}
			failJob = id
			return s.waitStatus(ctx, id, "FAILED")
		}},
		check{"finds it in the DLQ", func(ctx context.Context) (string, error) {
			deadline := time.Now().Add(s.wait)
			for {
				var page struct {
					Content []struct{ ID, JobID, Reason string }
				}
				if err := s.call(ctx, http.MethodGet, "/api/dlq?size=100", "", true, http.StatusOK, &page); err != nil {
					return "", err
				}
				for _, e := range page.Content {
					if e.JobID == failJob {
						return e.Reason + " " + e.ID, nil
					}
				}
				if time.Now().After(deadline) {
					return "", fmt.Errorf("no dead letter for job %s after %s", failJob, s.wait)
				}
				if err := sleep(ctx, s.poll); err != nil {
					return "", err
				}
			}
		}},
	)
}

// keyChecks make a viewer key with the admin key, use it, revoke it and
// wait until it is refused.
func (s *smoke) keyChecks() []check {
	var viewer struct{ ID, Key string }
	var revoked time.Time
	return []check{
		{"makes a viewer key (admin key)", func(ctx context.Context) (string, error) {
			body := fmt.Sprintf(`{"name":"smoke-%d","role":"viewer"}`, time.Now().Unix())
			if err := s.callAs(ctx, s.adminKey, http.MethodPost, "/api/keys", body, http.StatusCreated, &viewer); err != nil {
				return "", err
			}
			if viewer.ID == "" || !strings.HasPrefix(viewer.Key, "jw_") {
				return "", fmt.Errorf("the answer has no id or no jw_ key")
			}
			return viewer.ID, nil
		}},
		{"the viewer key reads", func(ctx context.Context) (string, error) {
			return "200", s.callAs(ctx, viewer.Key, http.MethodGet, "/api/jobs?size=1", "", http.StatusOK, nil)
		}},
		{"the viewer key may not submit", func(ctx context.Context) (string, error) {
			var e struct {
				Code string `json:"errorCode"`
			}
			body := `{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"jobweaver smoke test: refused"}]}}`
			if err := s.callAs(ctx, viewer.Key, http.MethodPost, "/api/jobs", body, http.StatusForbidden, &e); err != nil {
				return "", err
			}
			if e.Code != "API.FORBIDDEN" {
				return "", fmt.Errorf("403 with code %q, want API.FORBIDDEN", e.Code)
			}
			return "403 " + e.Code, nil
		}},
		{"revokes the viewer key", func(ctx context.Context) (string, error) {
			err := s.callAs(ctx, s.adminKey, http.MethodDelete, "/api/keys/"+viewer.ID, "", http.StatusOK, nil)
			revoked = time.Now()
			return viewer.ID, err
		}},
		{"refuses it within " + s.revokeWithin.String(), func(ctx context.Context) (string, error) {
			deadline := revoked.Add(s.revokeWithin)
			for {
				code, err := s.status(ctx, viewer.Key, http.MethodGet, "/api/jobs?size=1")
				if err != nil {
					return "", err
				}
				if code == http.StatusUnauthorized {
					return fmt.Sprintf("401 after %.1f s", time.Since(revoked).Seconds()), nil
				}
				if code != http.StatusOK {
					return "", fmt.Errorf("GET /api/jobs with the revoked key = %d, want 200 until it is refused, then 401", code)
				}
				if time.Now().After(deadline) {
					return "", fmt.Errorf("the revoked key still works %s after its revocation", s.revokeWithin)
				}
				if err := sleep(ctx, s.poll); err != nil {
					return "", err
				}
			}
		}},
	}
}

// status sends a request with cred and returns the answer's status.
func (s *smoke) status(ctx context.Context, cred, method, path string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.api+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+cred)
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// run runs the checks in order and stops at the first failure.
func (s *smoke) run(ctx context.Context, progress io.Writer) []result {
	var out []result
	for _, c := range s.checks() {
		start := time.Now()
		fmt.Fprintf(progress, "… %s\n", c.name)
		detail, err := c.run(ctx)
		out = append(out, result{c.name, detail, err, time.Since(start)})
		if err != nil {
			break
		}
	}
	return out
}

func (s *smoke) submit(ctx context.Context, steps string, maxRetry int) (string, error) {
	body := fmt.Sprintf(`{"jobType":"SIMULATION","payload":{"steps":[%s]},"maxRetryCount":%d}`, steps, maxRetry)
	var a struct{ JobID string }
	if err := s.call(ctx, http.MethodPost, "/api/jobs", body, true, http.StatusAccepted, &a); err != nil {
		return "", err
	}
	if a.JobID == "" {
		return "", errors.New("the answer has no jobId")
	}
	return a.JobID, nil
}

// waitStatus polls the job until it has status want, and fails early on
// another final status.
func (s *smoke) waitStatus(ctx context.Context, id, want string) (string, error) {
	start, deadline := time.Now(), time.Now().Add(s.wait)
	last := ""
	for {
		var j struct{ Status string }
		if err := s.call(ctx, http.MethodGet, "/api/jobs/"+id, "", true, http.StatusOK, &j); err != nil {
			return "", err
		}
		last = j.Status
		switch {
		case last == want:
			return fmt.Sprintf("%s after %.1f s", want, time.Since(start).Seconds()), nil
		case last == "COMPLETED" || last == "FAILED" || last == "CANCELLED":
			return "", fmt.Errorf("job %s ended %s, want %s", id, last, want)
		case time.Now().After(deadline):
			return "", fmt.Errorf("job %s is still %s after %s, want %s: see the CloudWatch dashboard and the functions' logs", id, last, s.wait, want)
		}
		if err := sleep(ctx, s.poll); err != nil {
			return "", err
		}
	}
}

// call sends a request (with the bearer credential when auth is set and
// there is one) and decodes the JSON answer into out, which may be nil.
func (s *smoke) call(ctx context.Context, method, path, body string, auth bool, want int, out any) error {
	cred := ""
	if auth {
		cred = s.bearer()
	}
	return s.callAs(ctx, cred, method, path, body, want, out)
}

// callAs is call with the credential cred ("" for none).
func (s *smoke) callAs(ctx context.Context, cred, method, path, body string, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, s.api+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	req.Header.Set("X-Trace-Id", "smoke-"+fmt.Sprint(time.Now().UnixNano()))
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode != want {
		hint := ""
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			hint = " (the token is missing, expired or not from this stage: make token)"
		case http.StatusForbidden:
			hint = " (the credential's role is below the route's: a token with jobweaver/read is a viewer, jobweaver/write an operator)"
		}
		return fmt.Errorf("%s %s = %d, want %d%s: %.300s", method, path, resp.StatusCode, want, hint, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: the answer is not the JSON expected: %w: %.300s", method, path, err, b)
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// table writes the results as a table.
func table(w io.Writer, results []result) {
	fmt.Fprintf(w, "%-34s %-6s %8s  %s\n", "check", "result", "time", "detail")
	for _, r := range results {
		status, detail := "ok", r.detail
		if r.err != nil {
			status, detail = "FAIL", r.err.Error()
		}
		fmt.Fprintf(w, "%-34s %-6s %7.1fs  %s\n", r.name, status, r.took.Seconds(), detail)
	}
}
