package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/stacktest"
)

// callbackPipeline: a SCRIPT, a wait for approval, a SCRIPT that reads
// the callback's body.
const callbackPipeline = `{"jobType":"DATA_PIPELINE","maxRetryCount":2,"payload":{"steps":[
	{"id":"pre","action":"SCRIPT","source":"result = {\"n\": 41}"},
	{"id":"approval","action":"WAIT_FOR_CALLBACK","timeoutMs":120000},
	{"id":"post","action":"SCRIPT","source":"result = {\"approved\": outputs[\"approval\"][\"approved\"], \"len\": len(outputs[\"approval\"][\"s\"]), \"n\": outputs[\"pre\"][\"n\"] + 1}"}]}}`

// keyed sends requests with an API key.
type keyed struct {
	s   *stack
	key string
}

func (k keyed) do(t *testing.T, method, path, body string) stacktest.Response {
	t.Helper()
	return k.s.Do(t, method, path, body, "Authorization", "Bearer "+k.key)
}

// wait polls the job until ok accepts it.
func (k keyed) wait(t *testing.T, id, what string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(stacktest.Bound)
	var last map[string]any
	for time.Now().Before(deadline) {
		r := k.do(t, http.MethodGet, "/api/jobs/"+id, "")
		if r.Status == http.StatusOK {
			if last = r.JSON(t); ok(last) {
				return last
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("job %s: never %s; last seen %v", id, what, last)
	return nil
}

// callback posts a callback without any credential.
func (s *stack) callback(t *testing.T, id, token, body string) stacktest.Response {
	t.Helper()
	return s.Do(t, http.MethodPost, "/api/jobs/"+id+"/callbacks/"+token, body)
}

func waitingCallback(job map[string]any) bool {
	_, ok := job["callback"].(map[string]any)
	return job["status"] == "WAITING" && ok
}

// TestWaitForCallbackOnTheStack: with API keys on, a pipeline parks at
// WAIT_FOR_CALLBACK (WAITING, its token and URL in the job's detail); a
// callback with no API key and the largest body (every byte one that
// HTML-escaping encoders grow sixfold) resumes it, the body is the step's
// output in /executions and the next SCRIPT reads it; the used token, a
// wrong one, and one after a timeout get 404; a body one byte over gets
// 413, a bad one 400; a wait that times out fails the job into the DLQ
// with WORKER.CALLBACK_TIMEOUT; failed callbacks are rate limited per
// source address.
func TestWaitForCallbackOnTheStack(t *testing.T) {
	admin, err := auth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	// Ticks of 250 ms (each may take that long) wake the timed-out wait
	// even on a busy machine.
	s := startStack(t, map[string]string{"API_AUTH": "keys", "API_ADMIN_KEY": admin,
		"API_RATE_LIMIT": "1", "API_RATE_BURST": "6", "TICK_INTERVAL": "250ms"})
	r := s.Do(t, http.MethodPost, "/api/keys", `{"name":"cb","role":"operator","rateLimit":10000,"rateBurst":10000}`,
		"Authorization", "Bearer "+admin)
	key, _ := r.JSON(t)["key"].(string)
	if r.Status != http.StatusCreated || key == "" {
		t.Fatalf("POST /api/keys = %d %s", r.Status, r.Body)
	}
	k := keyed{s, key}
	r = k.do(t, http.MethodPost, "/api/jobs", callbackPipeline)
	id, _ := r.JSON(t)["jobId"].(string)
	if r.Status != http.StatusAccepted || id == "" {
		t.Fatalf("submit = %d %s", r.Status, r.Body)
	}
	job := k.wait(t, id, "WAITING with a callback", func(j map[string]any) bool {
		return waitingCallback(j) || j["status"] == "COMPLETED" || j["status"] == "FAILED"
	})
	cb, _ := job["callback"].(map[string]any)
	token, _ := cb["token"].(string)
	if job["status"] != "WAITING" || len(token) != 32 || cb["url"] != s.APIURL+"/api/jobs/"+id+"/callbacks/"+token ||
		cb["stepIndex"] != 1.0 || cb["stepId"] != "approval" || cb["expiresAt"] != job["waitingUntil"] {
		t.Fatalf("waiting job %v", job)
	}
	if r := s.Do(t, http.MethodGet, "/api/jobs/"+id, ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("the job's detail without a key = %d: auth is not on", r.Status)
	}

	notFound := func(what string, r stacktest.Response) {
		t.Helper()
		if m := r.JSON(t); r.Status != http.StatusNotFound || m["errorCode"] != "API.CALLBACK_NOT_FOUND" {
			t.Fatalf("%s = %d %s", what, r.Status, r.Body)
		}
	}
	notFound("a wrong token", s.callback(t, id, strings.Repeat("x", 32), `{"approved":true}`))

	// The largest body: all '<' inside {"approved":true,"s":"..."}.
	frame := `{"approved":true,"s":""}`
	fill := envelope.MaxCallbackBytes - len(frame)
	largest := `{"approved":true,"s":"` + strings.Repeat("<", fill) + `"}`
	over := `{"approved":true,"s":"` + strings.Repeat("<", fill+1) + `"}`
	if r := s.callback(t, id, token, over); r.Status != http.StatusRequestEntityTooLarge || r.JSON(t)["errorCode"] != "API.PAYLOAD_TOO_LARGE" {
		t.Fatalf("one byte over = %d %s", r.Status, r.Body)
	}
	for _, bad := range []string{"", `{"approved":`, `{"a":1} {"b":2}`, `"\u0000"`} {
		if r := s.callback(t, id, token, bad); r.Status != http.StatusBadRequest || r.JSON(t)["errorCode"] != "API.INVALID_JSON" {
			t.Fatalf("body %q = %d %s", bad, r.Status, r.Body)
		}
	}
	r = s.callback(t, id, token, largest)
	if m := r.JSON(t); r.Status != http.StatusAccepted || m["jobId"] != id || m["status"] != "PENDING" {
		t.Fatalf("callback = %d %s", r.Status, r.Body)
	}
	notFound("the token again", s.callback(t, id, token, `{"approved":false}`))

	job = k.wait(t, id, "finished", func(j map[string]any) bool { return j["status"] == "COMPLETED" || j["status"] == "FAILED" })
	if job["status"] != "COMPLETED" || job["callback"] != nil {
		t.Fatalf("job = %v", job)
	}
	r = k.do(t, http.MethodGet, "/api/jobs/"+id+"/executions", "")
	var ex struct {
		Content []struct {
			Status string `json:"status"`
			Steps  []struct {
				Status string          `json:"status"`
				Output json.RawMessage `json:"output"`
			} `json:"steps"`
		} `json:"content"`
	}
	if err := json.Unmarshal(r.Body, &ex); err != nil || r.Status != http.StatusOK {
		t.Fatalf("executions = %d %.300s", r.Status, r.Body)
	}
	var last int
	for i, e := range ex.Content {
		if e.Status == "COMPLETED" {
			last = i
		}
	}
	steps := ex.Content[last].Steps
	var out struct {
		Approved bool   `json:"approved"`
		S        string `json:"s"`
	}
	if len(steps) != 3 || json.Unmarshal(steps[1].Output, &out) != nil || !out.Approved || out.S != strings.Repeat("<", fill) {
		t.Fatalf("the wait's output is not the callback's body: %d steps, %.200s", len(steps), steps[1].Output)
	}
	var post map[string]any
	if json.Unmarshal(steps[2].Output, &post) != nil || post["approved"] != true || post["len"] != float64(fill) || post["n"] != 42.0 {
		t.Fatalf("the next SCRIPT's output %s", steps[2].Output)
	}

	// A wait that times out: the job fails into the DLQ.
	r = k.do(t, http.MethodPost, "/api/jobs", `{"jobType":"DATA_PIPELINE","maxRetryCount":3,"payload":{"steps":[`+
		`{"action":"WAIT_FOR_CALLBACK","timeoutMs":1000},{"action":"LOG","message":"never"}]}}`)
	late, _ := r.JSON(t)["jobId"].(string)
	job = k.wait(t, late, "WAITING with a callback", waitingCallback)
	lateToken := job["callback"].(map[string]any)["token"].(string)
	job = k.wait(t, late, "FAILED", func(j map[string]any) bool { return j["status"] == "FAILED" || j["status"] == "COMPLETED" })
	if job["status"] != "FAILED" || job["lastErrorCode"] != "WORKER.CALLBACK_TIMEOUT" || job["attempts"] != 2.0 {
		t.Fatalf("timed-out job = %v", job)
	}
	dead := false
	for deadline := time.Now().Add(stacktest.Bound); !dead && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		r := k.do(t, http.MethodGet, "/api/dlq?size=100", "")
		var page struct {
			Content []map[string]any `json:"content"`
		}
		_ = json.Unmarshal(r.Body, &page)
		for _, e := range page.Content {
			if e["jobId"] == late && e["errorCode"] == "WORKER.CALLBACK_TIMEOUT" && e["reason"] == "PERMANENT_FAILURE" {
				dead = true
			}
		}
	}
	if !dead {
		t.Fatal("no PERMANENT_FAILURE dead letter with WORKER.CALLBACK_TIMEOUT")
	}
	notFound("a timed-out token", s.callback(t, late, lateToken, `{}`))

	// Failed callbacks spend the source address's bucket (API_RATE_BURST
	// 6, 1 a second): a run of wrong tokens ends in 429.
	limited := false
	for i := 0; i < 20 && !limited; i++ {
		r := s.callback(t, id, fmt.Sprintf("%032d", i), `{}`)
		switch r.Status {
		case http.StatusTooManyRequests:
			limited = r.JSON(t)["errorCode"] == "API.RATE_LIMITED" && r.Header.Get("Retry-After") != ""
		case http.StatusNotFound:
		default:
			t.Fatalf("wrong token %d = %d %s", i, r.Status, r.Body)
		}
	}
	if !limited {
		t.Fatal("20 wrong tokens in a row were never rate limited")
	}
}
