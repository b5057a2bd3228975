package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/jobweaver/jobweaver/shared/webhook"
)

const e2eSigningSecret = "e2e-partner-secret-0123456789"

// receiver is a webhook endpoint that answers the statuses queued, then
// 200, and keeps every delivery.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	got      []*http.Request
	bodies   [][]byte
}

func (h *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.got, h.bodies = append(h.got, r), append(h.bodies, b)
	code := 200
	if len(h.statuses) > 0 {
		code, h.statuses = h.statuses[0], h.statuses[1:]
	}
	h.mu.Unlock()
	w.WriteHeader(code)
	_, _ = w.Write([]byte("ok"))
}

func executionsOf(t *testing.T, s *stack, id string) []map[string]any {
	t.Helper()
	r := s.Do(t, http.MethodGet, "/api/jobs/"+id+"/executions", "")
	if r.Status != http.StatusOK {
		t.Fatalf("executions = %d %s", r.Status, r.Body)
	}
	var p struct {
		Content []map[string]any `json:"content"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	return p.Content
}

func stepsOf(t *testing.T, e map[string]any) []map[string]any {
	t.Helper()
	raw, _ := e["steps"].([]any)
	out := make([]map[string]any, len(raw))
	for i, s := range raw {
		out[i], _ = s.(map[string]any)
	}
	return out
}

// TestJobTypes runs WEBHOOK and DATA_PIPELINE jobs through the whole
// local stack: validation at the api, retries under the scheduler's
// backoff, outputs in /executions, permanent failures straight to the DLQ.
func TestJobTypes(t *testing.T) {
	s := startStack(t, map[string]string{"WEBHOOK_SIGNING_KEYS": "partner=" + e2eSigningSecret})

	t.Run("webhook retried after a 500, signed", func(t *testing.T) {
		h := &receiver{statuses: []int{500}}
		srv := httptest.NewServer(h)
		defer srv.Close()
		id := s.Submit(t, `{"jobType":"WEBHOOK","maxRetryCount":2,"payload":{"url":"`+srv.URL+`/in","body":{"order":42},"signingKey":"partner"}}`)
		job := s.WaitStatus(t, id, "COMPLETED", "FAILED")
		if job["status"] != "COMPLETED" || job["attempts"] != 2.0 || job["jobType"] != "WEBHOOK" {
			t.Fatalf("job = %v", job)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.got) != 2 {
			t.Fatalf("%d deliveries; want 2", len(h.got))
		}
		for i, r := range h.got {
			if string(h.bodies[i]) != `{"order":42}` || !webhook.Verify([]byte(e2eSigningSecret), h.bodies[i], r.Header.Get(webhook.HeaderSignature)) ||
				r.Header.Get("X-JobWeaver-Job-Id") != id || r.Header.Get(webhook.HeaderTimestamp) == "" {
				t.Errorf("delivery %d: %q %v", i, h.bodies[i], r.Header)
			}
		}
		ex := executionsOf(t, s, id)
		if len(ex) != 2 || ex[0]["errorCode"] != "WORKER.WEBHOOK_UNEXPECTED_STATUS" || ex[1]["status"] != "COMPLETED" {
			t.Fatalf("executions = %v", ex)
		}
		for i, want := range []float64{500, 200} {
			out, _ := stepsOf(t, ex[i])[0]["output"].(map[string]any)
			if out["status"] != want || out["bytes"] != 2.0 {
				t.Errorf("attempt %d output = %v; want status %v", i+1, out, want)
			}
		}
	})

	t.Run("webhook with an unknown signing key is dead-lettered at once", func(t *testing.T) {
		h := &receiver{}
		srv := httptest.NewServer(h)
		defer srv.Close()
		id := s.Submit(t, `{"jobType":"WEBHOOK","maxRetryCount":3,"payload":{"url":"`+srv.URL+`","signingKey":"nobody"}}`)
		job := s.WaitStatus(t, id, "FAILED")
		if job["attempts"] != 1.0 || job["lastErrorCode"] != "WORKER.WEBHOOK_SIGNING_KEY_UNKNOWN" {
			t.Fatalf("job = %v", job)
		}
		entry := s.WaitDeadLetter(t, "the webhook", func(e map[string]any) bool { return e["jobId"] == id })
		if entry["errorCode"] != "WORKER.WEBHOOK_SIGNING_KEY_UNKNOWN" {
			t.Fatalf("dead letter = %v", entry)
		}
		if len(h.got) != 0 {
			t.Fatalf("an unsigned delivery went out")
		}
	})

	t.Run("pipeline chains HTTP_CALL and SCRIPT outputs", func(t *testing.T) {
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"items":[{"price":3,"qty":2},{"price":10,"qty":1}]}`)
		}))
		defer api.Close()
		src, _ := json.Marshal("total = 0\nfor it in outputs[\"cart\"][\"body\"][\"items\"]:\n    total += it[\"price\"] * it[\"qty\"]\nresult = {\"total\": total}")
		id := s.Submit(t, `{"jobType":"DATA_PIPELINE","payload":{"steps":[
			{"id":"cart","action":"HTTP_CALL","url":"`+api.URL+`/cart"},
			{"id":"sum","action":"SCRIPT","source":`+string(src)+`},
			{"id":"report","action":"SCRIPT","source":"result = \"total: %d\" % outputs[\"sum\"][\"total\"]"}]}}`)
		if job := s.WaitStatus(t, id, "COMPLETED", "FAILED"); job["status"] != "COMPLETED" {
			t.Fatalf("job = %v", job)
		}
		ex := executionsOf(t, s, id)
		if len(ex) != 1 {
			t.Fatalf("executions = %v", ex)
		}
		st := stepsOf(t, ex[0])
		cart, _ := st[0]["output"].(map[string]any)
		sum, _ := st[1]["output"].(map[string]any)
		if st[0]["id"] != "cart" || cart["status"] != 200.0 || sum["total"] != 16.0 || st[2]["output"] != "total: 16" {
			t.Fatalf("steps = %v", st)
		}
		if r := s.Do(t, http.MethodGet, "/api/jobs?type=DATA_PIPELINE", ""); r.Status != 200 || !strings.Contains(string(r.Body), id) {
			t.Fatalf("list by type = %d %.300s", r.Status, r.Body)
		}
	})

	t.Run("script over its budget fails in bounded time", func(t *testing.T) {
		id := s.Submit(t, `{"jobType":"DATA_PIPELINE","maxRetryCount":0,"payload":{"steps":[
			{"action":"SCRIPT","timeoutMs":300,"source":"x = 0\nwhile True:\n    x += 1\nresult = x"}]}}`)
		job := s.WaitStatus(t, id, "FAILED")
		if job["lastErrorCode"] != "WORKER.SCRIPT_BUDGET_EXCEEDED" {
			t.Fatalf("job = %v", job)
		}
		ex := executionsOf(t, s, id)
		if len(ex) != 1 || ex[0]["durationMs"].(float64) > 3000 {
			t.Fatalf("executions = %v", ex)
		}
	})

	t.Run("a webhook can be cancelled", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		id := s.Submit(t, `{"jobType":"WEBHOOK","payload":{"url":"`+srv.URL+`","timeoutMs":30000}}`)
		r := s.Do(t, http.MethodDelete, "/api/jobs/"+id, "")
		if got := r.JSON(t); r.Status != http.StatusOK || got["status"] != "CANCELLED" {
			t.Fatalf("cancel = %d %s", r.Status, r.Body)
		}
	})

	t.Run("submit-time errors", func(t *testing.T) {
		for _, c := range []struct{ body, want string }{
			{`{"jobType":"DATA_PIPELINE","payload":{"steps":[{"action":"SCRIPT","source":"x = 1\nresult = (x +\n"}]}}`, "payload.steps[0].source: line 3:"},
			{`{"jobType":"BATCH","payload":{"steps":[{"action":"LOG","message":"x"}]}}`, `unknown job type "BATCH"; one of BATCH_PROCESS, DATA_PIPELINE, SIMULATION, WEBHOOK`},
			{`{"jobType":"WEBHOOK","payload":{"url":"file:///etc/passwd"}}`, "payload.url: must be an absolute http or https URL"},
			{`{"jobType":"SIMULATION","payload":{"steps":[{"action":"SCRIPT","source":"result = 1"}]}}`, `unknown action "SCRIPT"`},
		} {
			r := s.Do(t, http.MethodPost, "/api/jobs", c.body)
			got := r.JSON(t)
			if r.Status != http.StatusBadRequest || got["errorCode"] != "API.INVALID_REQUEST" || !strings.Contains(got["message"].(string), c.want) {
				t.Errorf("%s: %d %s; want 400 naming %q", c.body, r.Status, r.Body, c.want)
			}
		}
	})
}
