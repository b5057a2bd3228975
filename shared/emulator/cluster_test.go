package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

func startFixture(t *testing.T, env map[string]string, instances int) *Cluster {
	t.Helper()
	binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{RIE: rieBin}, Function{Name: "fixture", Bootstrap: fixtureBin, Env: env, Timeout: 2 * time.Second, Instances: instances})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	dumpOnFailure(t, &c, "fixture")
	return c
}

func call(t *testing.T, c *Cluster, event string) (map[string]any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, _ := json.Marshal(event)
	out, err := c.Invoke(ctx, "fixture", b)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%s: %s is not an object: %v", event, out, err)
	}
	return m, nil
}

func wantFunctionError(t *testing.T, err error, kind, msg string) {
	t.Helper()
	var fe *invoke.FunctionError
	if !errors.As(err, &fe) || fe.Type != kind || !strings.Contains(fe.Message, msg) {
		t.Fatalf("error = %v; want a function error %s …%s…", err, kind, msg)
	}
}

// What the emulator does with each way a function can end, as seen
// through the Invoke API and invoke.Lambda.
func TestEmulatorOutcomes(t *testing.T) {
	c := startFixture(t, map[string]string{"FIXTURE_REQUIRED": "1"}, 1)

	ok, err := call(t, c, "hello")
	if err != nil {
		t.Fatal(err)
	}
	pid := ok["pid"]
	if ok["echo"] != "hello" || ok["endpoint"] != c.URL || ok["name"] != "jobweaver-fixture" {
		t.Errorf("echo = %v", ok)
	}
	if dl := ok["deadlineMs"].(float64); dl < 1000 || dl > 2000 {
		t.Errorf("the function saw a deadline %v ms away; want its 2 s timeout", dl)
	}

	// A returned error: 200 without X-Amz-Function-Error from the
	// emulator; invoke.Lambda reads errorType from the payload.
	resp, err := http.Post(c.URL+"/2015-03-31/functions/fixture/invocations", "application/json", strings.NewReader(`"error"`))
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "" || !strings.Contains(raw.String(), `"errorType":"errorString"`) {
		t.Errorf("returned error: %d %v %s", resp.StatusCode, resp.Header, raw.String())
	}
	_, err = call(t, c, "error")
	wantFunctionError(t, err, "errorString", "boom")

	// A panic: the runtime reports it and exits; the next invocation
	// gets a fresh runtime.
	_, err = call(t, c, "panic")
	wantFunctionError(t, err, "string", "kaboom")
	after, err := call(t, c, "after panic")
	if err != nil || after["pid"] == pid {
		t.Errorf("after a panic: %v, %v (pid before %v)", after, err, pid)
	}

	_, err = call(t, c, "exit")
	wantFunctionError(t, err, "Runtime.ExitError", "exit status 3")

	start := time.Now()
	_, err = call(t, c, "sleep")
	wantFunctionError(t, err, invoke.ErrorTypeTimeout, "Task timed out after 2.00 seconds")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a timed-out invocation took %v", d)
	}

	_, err = call(t, c, "big")
	wantFunctionError(t, err, invoke.ErrorTypeResponseTooLarge, "exceeded maximum allowed payload size")

	if _, err := call(t, c, "still alive"); err != nil {
		t.Errorf("after every failure: %v", err)
	}

	// Requests the Lambda API refuses.
	big := make([]byte, MaxPayloadBytes+10)
	_, err = c.Invoke(context.Background(), "fixture", big)
	if err == nil || !strings.Contains(err.Error(), "RequestTooLargeException") {
		t.Errorf("oversized request: %v", err)
	}
	l := invoke.NewLambdaAt(c.URL, map[string]string{"nope": "nope"})
	if _, err := l.Invoke(context.Background(), "nope", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("unknown function: %v", err)
	}
	// An ARN names the function too.
	arn := invoke.NewLambdaAt(c.URL, map[string]string{"f": "arn:aws:lambda:us-east-1:000000000000:function:jobweaver-fixture"})
	if _, err := arn.Invoke(context.Background(), "f", []byte(`"arn"`)); err != nil {
		t.Errorf("by ARN: %v", err)
	}

	// The standard AWS configuration chain reaches the cluster unchanged:
	// what the api function does, and `make invoke-remote ARGS=--aws`.
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", c.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	chain, err := invoke.NewLambda(context.Background(), map[string]string{"f": "jobweaver-fixture"})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := chain.Invoke(context.Background(), "f", []byte(`"chain"`)); err != nil || !strings.Contains(string(out), `"echo":"chain"`) {
		t.Errorf("through the default configuration chain: %s, %v", out, err)
	}

	var cold int
	for _, r := range c.Reports("fixture") {
		if r.Init > 0 {
			cold++
		}
	}
	if cold < 3 { // the first start, after the panic, after the exit (and the timeout)
		t.Errorf("cold starts reported: %d in %+v", cold, c.Reports("fixture"))
	}
}

// The emulator crashes on a second concurrent invocation; the cluster
// queues invocations per environment, so many at once all succeed.
func TestConcurrentInvocationsAreQueued(t *testing.T) {
	c := startFixture(t, map[string]string{"FIXTURE_REQUIRED": "1"}, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := call(t, c, "concurrent")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	pids := map[int]bool{}
	for _, inv := range c.Invocations("fixture") {
		pids[inv.Environment] = true
	}
	if len(pids) != 2 {
		t.Errorf("environments used: %v; want both", pids)
	}
	// Event invocations are accepted at once and run in the background.
	resp, err := http.DefaultClient.Do(mustRequest(t, c.URL+"/2015-03-31/functions/fixture/invocations", "Event"))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("Event invocation: %v %v", resp, err)
	}
	resp.Body.Close()
}

func mustRequest(t *testing.T, url, invocationType string) *http.Request {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`"event"`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Invocation-Type", invocationType)
	return req
}

// A function whose init fails: Runtime.ExitError, and its one line in
// its log.
func TestInitFailure(t *testing.T) {
	c := startFixture(t, nil, 1)
	_, err := call(t, c, "hello")
	wantFunctionError(t, err, "Runtime.ExitError", "during init")
	waitLine(t, c, "fixture", "FIXTURE_REQUIRED is required")
}

// waitLine waits until function printed a line containing s; the output
// arrives through a pipe, after the invocation's answer.
func waitLine(t *testing.T, c *Cluster, function, s string) []string {
	t.Helper()
	var lines []string
	testwait.EventuallyState(t, 5*time.Second, fmt.Sprintf("%s prints %q", function, s), func() bool {
		lines = functionLines(c.Lines(function))
		return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, s) })
	}, func() string { return "it printed:\n" + strings.Join(lines, "\n") })
	return lines
}

func TestFunctionFromPath(t *testing.T) {
	for path, want := range map[string]string{
		"/2015-03-31/functions/jobweaver-api/invocations":                                          "jobweaver-api",
		"/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:jobweaver-api/invocations":      "jobweaver-api",
		"/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:jobweaver-api:live/invocations": "jobweaver-api",
		"/2015-03-31/functions//invocations":                                                       "",
		"/2015-03-31/functions/a/b/invocations":                                                    "",
		"/2015-03-31/functions/a/invoke-async":                                                     "",
	} {
		got, ok := functionFromPath(path)
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v; want %q", path, got, ok, want)
		}
	}
}
