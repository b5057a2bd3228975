package api

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/internalapi"
)

func TestRedactPath(t *testing.T) {
	t.Parallel()
	tok := "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
	for _, c := range []struct{ in, want string }{
		{"/api/jobs/j1/callbacks/" + tok, "/api/jobs/j1/callbacks/[token]"},
		{"/api/jobs/j1/callbacks/" + tok + "/more", "/api/jobs/j1/callbacks/[token]"},
		{"/api/jobs/j1/callbacks/", "/api/jobs/j1/callbacks/[token]"},
		{"/api/jobs/j1", "/api/jobs/j1"},
		{"/health", "/health"},
		{"/other/callbacks/" + tok, "/other/callbacks/" + tok},
	} {
		if got := redactPath(c.in); got != c.want {
			t.Errorf("redactPath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestValidToken(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		tok  string
		want bool
	}{
		{"AbCdEfGhIjKlMnOpQrStUvWxYz012345", true},
		{"-_" + strings.Repeat("a", 30), true},
		{strings.Repeat("a", 31), false},
		{strings.Repeat("a", 33), false},
		{strings.Repeat("a", 31) + "=", false},
		{strings.Repeat("a", 31) + "/", false},
		{"", false},
	} {
		if got := validToken(c.tok); got != c.want {
			t.Errorf("validToken(%q) = %v", c.tok, got)
		}
	}
}

func TestCallbackView(t *testing.T) {
	t.Parallel()
	w := &internalapi.CallbackWait{Token: "tok", StepIndex: 2, StepID: "approval"}
	r := httptest.NewRequest("GET", "http://api.example.com/api/jobs/j1", nil)
	if v := callbackView(r, "j1", w); v.URL != "http://api.example.com/api/jobs/j1/callbacks/tok" || v.StepIndex != 2 || v.StepID != "approval" {
		t.Errorf("view %+v", v)
	}
	r.Header.Set("X-Forwarded-Proto", "https")
	if v := callbackView(r, "j1", w); v.URL != "https://api.example.com/api/jobs/j1/callbacks/tok" {
		t.Errorf("behind TLS: %s", v.URL)
	}
	r.Host = ""
	if v := callbackView(r, "j1", w); v.URL != "/api/jobs/j1/callbacks/tok" {
		t.Errorf("no host: %s", v.URL)
	}
	if callbackView(r, "j1", nil) != nil {
		t.Error("a view without a wait")
	}
}

// The api forwards a callback to the scheduler (token and compact body,
// HTML characters as they are), maps its answers (202, 404 for all
// refusals, 503 when it cannot be reached), spends the address's failure
// bucket on every 404, and never logs the token.
func TestPostCallback(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RateLimit, cfg.RateBurst = 1, 3
	b := setup(t, cfg)
	jobID := "6f1c0a52-8a55-4c35-9d62-0c4f0e0c2b1a"
	tok := "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
	path := "/api/jobs/" + jobID + "/callbacks/" + tok
	b.sched.on("POST "+internalapi.PathJobCallback, 202, internalapi.CallbackAccepted{JobID: jobID, Status: "PENDING"})
	w := b.do("POST", path, "{ \"ok\" : \"<&>\" }")
	if w.Code != 202 || !strings.Contains(w.Body.String(), `"status":"PENDING"`) {
		t.Fatalf("callback = %d %s", w.Code, w.Body)
	}
	calls := b.sched.received()
	if len(calls) != 1 || calls[0].Path != internalapi.JobCallbackPath(jobID) ||
		calls[0].Body != `{"token":"`+tok+`","body":{"ok":"<&>"}}` {
		t.Fatalf("scheduler got %+v", calls)
	}
	for _, c := range []struct {
		name, target, body string
		status             int
		code               string
	}{
		{"malformed token", "/api/jobs/" + jobID + "/callbacks/short", `{}`, 404, "API.CALLBACK_NOT_FOUND"},
		{"not a job ID", "/api/jobs/nope/callbacks/" + tok, `{}`, 404, "API.CALLBACK_NOT_FOUND"},
		{"empty body", path, ``, 400, "API.INVALID_JSON"},
		{"two values", path, `{} {}`, 400, "API.INVALID_JSON"},
		{"lone surrogate", path, `{"a":"\udc00"}`, 400, "API.INVALID_JSON"},
		{"too big", path, `"` + strings.Repeat("a", 65535) + `"`, 413, "API.PAYLOAD_TOO_LARGE"},
	} {
		wantError(t, b.do("POST", c.target, c.body), c.status, c.code)
	}
	if n := len(b.sched.received()); n != 1 {
		t.Fatalf("refused requests reached the scheduler: %d calls", n)
	}
	// The scheduler refuses: one 404; the address's failures (burst 3,
	// two spent above) run out and the next is a 429 before any call.
	b.sched.on("POST "+internalapi.PathJobCallback, 404, `{"errorCode":"SCHEDULER.CALLBACK_NOT_FOUND","message":"no"}`)
	wantError(t, b.do("POST", path, `{}`), 404, "API.CALLBACK_NOT_FOUND")
	wantError(t, b.do("POST", path, `{}`), 429, "API.RATE_LIMITED")
	if n := len(b.sched.received()); n != 2 {
		t.Fatalf("%d scheduler calls; want 2", n)
	}
	if strings.Contains(b.logs.String(), tok) {
		t.Fatalf("the token is in the logs: %s", b.logs.String())
	}
	if !strings.Contains(b.logs.String(), "/callbacks/[token]") {
		t.Fatalf("the access log does not show the redacted path: %s", b.logs.String())
	}
}
