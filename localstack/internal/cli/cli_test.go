package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/devstack"
)

func TestRunInvoke(t *testing.T) {
	dir := t.TempDir()
	event := filepath.Join(dir, "event.json")
	notJSON := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(event, []byte(`{"hello":"world"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notJSON, []byte(`{`), 0o600); err != nil {
		t.Fatal(err)
	}
	type call struct {
		cfg     devstack.Config
		fn      string
		payload string
	}
	for _, c := range []struct {
		name      string
		args      []string
		result    string
		fail      error
		code      int
		stdout    string
		stderr    string // a line of it
		wantCall  bool
		wantUsage bool
	}{
		{name: "help", args: []string{"--help"}, code: 0, wantUsage: true},
		{name: "bad flag", args: []string{"--nope"}, code: 2, wantUsage: true},
		{name: "no arguments", code: 2, wantUsage: true},
		{name: "one argument", args: []string{"worker"}, code: 2, wantUsage: true},
		{name: "unknown function", args: []string{"mailer", event}, code: 2,
			stderr: `test: unknown function "mailer" (want api, scheduler, worker or dlq)`},
		{name: "no such file", args: []string{"worker", filepath.Join(dir, "none.json")}, code: 1, stderr: "test: open "},
		{name: "not JSON", args: []string{"worker", notJSON}, code: 1, stderr: "test: " + notJSON + " is not valid JSON"},
		{name: "bad setting", args: []string{"--tick-interval=soon", "worker", event}, code: 1, stderr: "TICK_INTERVAL"},
		{name: "result", args: []string{"--function-timeout=5s", "worker", event}, result: `{"a":[1,2]}`,
			code: 0, stdout: "{\n  \"a\": [\n    1,\n    2\n  ]\n}\n", wantCall: true},
		{name: "result not JSON", args: []string{"dlq", event}, result: `plain`, code: 0, stdout: "plain\n", wantCall: true},
		{name: "invocation fails", args: []string{"api", event}, fail: errors.New("boom"), code: 1, stderr: "test: api: boom", wantCall: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Apply exports the flags given; t.Setenv restores them.
			t.Setenv("FUNCTION_TIMEOUT", "60s")
			t.Setenv("TICK_INTERVAL", "1s")
			var stdout, stderr bytes.Buffer
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(&stderr)
			Flags(fs)
			usage := false
			fs.Usage = func() { usage = true }
			var got []call
			code := RunInvoke(fs, c.args, &stdout, func(ctx context.Context, cfg devstack.Config, fn string, payload []byte) ([]byte, error) {
				got = append(got, call{cfg, fn, string(payload)})
				return []byte(c.result), c.fail
			})
			if code != c.code || stdout.String() != c.stdout || usage != c.wantUsage {
				t.Errorf("exit %d, stdout %q, usage %v; want %d, %q, %v (stderr %q)", code, stdout.String(), usage, c.code, c.stdout, c.wantUsage, stderr.String())
			}
			if c.stderr != "" && (!strings.Contains(stderr.String(), c.stderr) || strings.Count(stderr.String(), "\n") != 1) {
				t.Errorf("stderr %q; want one line with %q", stderr.String(), c.stderr)
			}
			if len(got) != map[bool]int{true: 1}[c.wantCall] {
				t.Fatalf("%d invocations", len(got))
			}
			if c.wantCall {
				g := got[0]
				if g.fn != c.args[len(c.args)-2] || g.payload != `{"hello":"world"}` || g.cfg.Logs != &stderr {
					t.Errorf("invoked %s with %s, logs to %v", g.fn, g.payload, g.cfg.Logs)
				}
				if c.name == "result" && g.cfg.FunctionTimeout != 5*time.Second {
					t.Errorf("FunctionTimeout %v; want the flag's 5s", g.cfg.FunctionTimeout)
				}
			}
		})
	}
}
