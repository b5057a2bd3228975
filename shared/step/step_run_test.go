package step_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/ssrf"
	"github.com/jobweaver/jobweaver/shared/step"
)

func mustParse(t *testing.T, raw string) step.Step {
	t.Helper()
	s, err := step.Default.Parse(json.RawMessage(raw))
	if err != nil {
		t.Fatalf("Parse(%s): %v", raw, err)
	}
	return s
}

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestSleepRun(t *testing.T) {
	if err := mustParse(t, `{"action":"SLEEP","durationMs":1}`).Run(context.Background(), step.Env{Attempt: 1}); err != nil {
		t.Fatalf("short sleep: %v", err)
	}
	if err := mustParse(t, `{"action":"SLEEP","durationMs":0}`).Run(context.Background(), step.Env{Attempt: 1}); err != nil {
		t.Fatalf("zero sleep: %v", err)
	}
	long := mustParse(t, `{"action":"SLEEP","durationMs":300000}`)
	if err := long.Run(cancelled(), step.Env{Attempt: 1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("sleep with a cancelled context = %v, want context.Canceled", err)
	}
	// Cancelled while sleeping: Run must come back instead of waiting 300 s.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- long.Run(ctx, step.Env{Attempt: 1}) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("sleep cancelled while running = %v, want context.Canceled", err)
	}
}

func TestComputeRun(t *testing.T) {
	if err := mustParse(t, `{"action":"COMPUTE","iterations":100000}`).Run(context.Background(), step.Env{Attempt: 1}); err != nil {
		t.Fatalf("compute: %v", err)
	}
	big := mustParse(t, `{"action":"COMPUTE","iterations":100000000}`)
	if err := big.Run(cancelled(), step.Env{Attempt: 1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("compute with a cancelled context = %v, want context.Canceled", err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if err := big.Run(ctx, step.Env{Attempt: 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("compute past its deadline = %v, want context.DeadlineExceeded", err)
	}
}

func TestFailRun(t *testing.T) {
	always := mustParse(t, `{"action":"FAIL","message":"simulated crash"}`)
	for attempt := 1; attempt <= 3; attempt++ {
		err := always.Run(context.Background(), step.Env{Attempt: attempt})
		if !errors.Is(err, step.ErrStepFailed) || !strings.Contains(err.Error(), "simulated crash") {
			t.Fatalf("attempt %d: %v, want ErrStepFailed naming the message", attempt, err)
		}
	}
	if err := mustParse(t, `{"action":"FAIL"}`).Run(context.Background(), step.Env{Attempt: 1}); !errors.Is(err, step.ErrStepFailed) {
		t.Fatalf("FAIL without message = %v", err)
	}
	flaky := mustParse(t, `{"action":"FAIL","message":"flaky","failTimes":2}`)
	for attempt, wantFail := range map[int]bool{1: true, 2: true, 3: false, 4: false} {
		err := flaky.Run(context.Background(), step.Env{Attempt: attempt})
		if (err != nil) != wantFail {
			t.Errorf("failTimes=2, attempt %d: err = %v, want failure=%v", attempt, err, wantFail)
		}
	}
	if err := mustParse(t, `{"action":"FAIL","failTimes":0}`).Run(context.Background(), step.Env{Attempt: 1}); err != nil {
		t.Errorf("failTimes=0 must never fail: %v", err)
	}
}

func TestLogRun(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	if err := mustParse(t, `{"action":"LOG","message":"hello world"}`).Run(context.Background(), step.Env{Attempt: 2, Index: 3, Log: log}); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	if line["msg"] != "hello world" || line["action"] != "LOG" || line["step"] != float64(3) || line["attempt"] != float64(2) {
		t.Fatalf("log line = %v", line)
	}
	// A nil logger is not an error.
	if err := mustParse(t, `{"action":"LOG","message":"x"}`).Run(context.Background(), step.Env{Attempt: 1}); err != nil {
		t.Fatal(err)
	}
}

func TestHTTPCallSimulated(t *testing.T) {
	s := mustParse(t, `{"action":"HTTP_CALL","latencyMs":1}`)
	if err := s.Run(context.Background(), step.Env{Attempt: 1}); err != nil {
		t.Fatalf("simulated call: %v", err)
	}
	slow := mustParse(t, `{"action":"HTTP_CALL","latencyMs":60000}`)
	if err := slow.Run(cancelled(), step.Env{Attempt: 1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("simulated call with a cancelled context = %v", err)
	}
}

func TestHTTPCallReal(t *testing.T) {
	var hits atomic.Int64
	var lastMethod, lastUA atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		lastMethod.Store(r.Method)
		lastUA.Store(r.UserAgent())
		_, _ = w.Write([]byte("fine"))
	})
	mux.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	allowed, err := ssrf.NewClient([]string{"127.0.0.1/32"}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	env := step.Env{Attempt: 1, HTTP: allowed}

	if err := mustParse(t, `{"action":"HTTP_CALL","url":"`+srv.URL+`/ok"}`).Run(context.Background(), env); err != nil {
		t.Fatalf("GET /ok: %v", err)
	}
	if lastMethod.Load() != "GET" || !strings.HasPrefix(lastUA.Load().(string), "JobWeaver-Worker/") {
		t.Errorf("server saw %v with User-Agent %v", lastMethod.Load(), lastUA.Load())
	}
	if err := mustParse(t, `{"action":"HTTP_CALL","url":"`+srv.URL+`/ok","method":"POST","timeoutMs":5000}`).Run(context.Background(), env); err != nil {
		t.Fatalf("POST /ok: %v", err)
	}
	if lastMethod.Load() != "POST" {
		t.Errorf("method = %v, want POST", lastMethod.Load())
	}
	err = mustParse(t, `{"action":"HTTP_CALL","url":"`+srv.URL+`/boom"}`).Run(context.Background(), env)
	if !errors.Is(err, step.ErrStepFailed) || !strings.Contains(err.Error(), "500") {
		t.Fatalf("GET /boom = %v, want ErrStepFailed naming 500", err)
	}
	if got := hits.Load(); got != 3 {
		t.Fatalf("server hits = %d, want 3", got)
	}

	// The guard without an allowlist refuses loopback before any request.
	guarded, err := ssrf.NewClient(nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = mustParse(t, `{"action":"HTTP_CALL","url":"`+srv.URL+`/ok"}`).Run(context.Background(), step.Env{Attempt: 1, HTTP: guarded})
	if !errors.Is(err, step.ErrStepFailed) || !errors.Is(err, ssrf.ErrBlocked) {
		t.Fatalf("guarded GET of loopback = %v, want ErrStepFailed wrapping ssrf.ErrBlocked", err)
	}
	if hits.Load() != 3 {
		t.Fatal("the guarded request reached the server")
	}
	// No client configured: the step fails rather than using a default one.
	if err := mustParse(t, `{"action":"HTTP_CALL","url":"`+srv.URL+`/ok"}`).Run(context.Background(), step.Env{Attempt: 1}); !errors.Is(err, step.ErrStepFailed) {
		t.Fatalf("no client = %v", err)
	}
	// A cancelled context ends a real call too, and says so.
	err = mustParse(t, `{"action":"HTTP_CALL","url":"`+srv.URL+`/ok"}`).Run(cancelled(), env)
	if !errors.Is(err, step.ErrStepFailed) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled real call = %v", err)
	}
}
