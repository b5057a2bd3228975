package browsertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/stacktest"
)

// runBound turns a hung browser run into a failure; no spec is timed by it.
const runBound = 20 * time.Minute

// defaultChromium is where Debian's chromium package puts the browser.
const defaultChromium = "/usr/bin/chromium"

// dashboardDir is dashboard/, the parent of this package's folder (go test
// runs a test in its package's folder).
func dashboardDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "playwright.config.ts")); err != nil {
		t.Fatalf("%s is not the dashboard folder: %v", dir, err)
	}
	return dir
}

// chromium is the browser Playwright launches: CHROMIUM_PATH or Debian's.
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CHROMIUM_PATH")
	if path == "" {
		path = defaultChromium
	}
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("no Chromium at %s (%v): the browser tests run on the machine's Chromium and download none; "+
			"install it (sudo apt-get install chromium) or set CHROMIUM_PATH to a Chromium or Chrome binary", path, err)
	}
	return path
}

// prerequisites checks Node, the dashboard's packages and its build.
func prerequisites(t *testing.T, dir string) {
	t.Helper()
	for _, tool := range []string{"node", "npx"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: the browser tests need Node.js and npm (sudo apt-get install nodejs npm)", tool)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@playwright", "test", "package.json")); err != nil {
		t.Fatalf("the dashboard's packages are not installed (%v): make test installs them, or: "+
			"cd dashboard && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "dist", "index.html")); err != nil {
		t.Fatalf("the dashboard is not built (%v): make test and make build build it, or: cd dashboard && npm run build", err)
	}
}

// TestBrowser starts two private stacks serving dashboard/dist, one with
// API_AUTH=none and one with API_AUTH=keys (its admin key made here), and
// runs every Playwright spec: e2e/auth.spec.ts against the second, the
// others against the first (playwright.config.ts's projects).
func TestBrowser(t *testing.T) {
	dir := dashboardDir(t)
	browser := chromium(t)
	prerequisites(t, dir)

	logPath := filepath.Join(t.TempDir(), "stack.log")
	// WORKER_HTTP_ALLOWLIST: e2e/outputs.spec.ts's HTTP_CALL and WEBHOOK
	// call this stack's own /health on 127.0.0.1, which the SSRF guard
	// refuses otherwise.
	// OTEL_TRACES_SAMPLER_ARG: e2e/trace.spec.ts draws a job's trace, so
	// every job is traced.
	st := startStack(t, dir, "browser", logPath, map[string]string{"TICK_INTERVAL": "250ms", "WORKER_HTTP_ALLOWLIST": "127.0.0.1/32", "OTEL_TRACES_SAMPLER_ARG": "1"})

	// A second stack with access control on, for e2e/auth.spec.ts (the
	// "auth" project): API keys, its admin key seeded, and a key cache of
	// 100 ms so that a revocation reaches the signed-in page at its next
	// poll.
	adminKey, err := auth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	authLogPath := filepath.Join(t.TempDir(), "stack-auth.log")
	authSt := startStack(t, dir, "browserauth", authLogPath, map[string]string{
		"TICK_INTERVAL": "250ms", "API_AUTH": "keys", "API_ADMIN_KEY": adminKey, "API_KEY_CACHE_TTL": "100ms",
	})
	if r := stacktest.Do(t, authSt.APIURL, http.MethodGet, "/api/whoami", ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("GET /api/whoami without a key on the auth stack = %d %.300s; want 401", r.Status, r.Body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), runBound)
	defer cancel()
	args := append([]string{"playwright", "test"}, strings.Fields(os.Getenv("PLAYWRIGHT_ARGS"))...)
	cmd := exec.CommandContext(ctx, "npx", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"JOBWEAVER_URL="+st.APIURL,
		"JOBWEAVER_AUTH_URL="+authSt.APIURL,
		"JOBWEAVER_ADMIN_KEY="+adminKey,
		"CHROMIUM_PATH="+browser,
		"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1",
		"CI=1",          // Playwright: no interactive report server
		"FORCE_COLOR=0", // plain lines in go test's output
		"NO_UPDATE_NOTIFIER=1",
	)
	// Playwright and its browsers in a group of their own, killed whole
	// if the run outlives runBound.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	fmt.Fprintf(os.Stdout, "browsertest: npx %s (in %s) against %s (auth none) and %s (API_AUTH=keys), Chromium %s\n", strings.Join(args, " "), dir, st.APIURL, authSt.APIURL, browser)
	if err := cmd.Start(); err != nil {
		t.Fatalf("npx playwright test: %v", err)
	}
	stream(os.Stdout, out)
	err = cmd.Wait()
	keepStackLog(t, logPath, filepath.Join(dir, "test-results", "stack.log"))
	keepStackLog(t, authLogPath, filepath.Join(dir, "test-results", "stack-auth.log"))
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("playwright test ran past %s and was killed", runBound)
	}
	if err != nil {
		t.Fatalf("playwright test failed (%v): see its output above; screenshots and traces of the failed specs are in %s, the stacks' logs in %s and %s",
			err, filepath.Join(dir, "test-results"), filepath.Join(dir, "test-results", "stack.log"), filepath.Join(dir, "test-results", "stack-auth.log"))
	}
}

// startStack starts a private stack (name, vars over devstack's defaults)
// that serves dashboard/dist and logs to logPath, and checks that it serves
// the build at / before any browser starts.
func startStack(t *testing.T, dir, name, logPath string, vars map[string]string) *stacktest.Stack {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	cfg := stacktest.Config(t, name, vars)
	cfg.DashboardDir = filepath.Join(dir, "dist")
	cfg.Logs = logFile
	st := stacktest.Start(t, cfg)
	home := stacktest.Do(t, st.APIURL, http.MethodGet, "/", "", "Accept", "text/html")
	if home.Status != http.StatusOK || !strings.HasPrefix(home.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / on the %s stack = %d %q %.300s; want the dashboard's index.html", name, home.Status, home.Header.Get("Content-Type"), home.Body)
	}
	return st
}

// stream copies Playwright's output line by line, each line at once.
func stream(w io.Writer, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fmt.Fprintf(w, "playwright: %s\n", sc.Text())
	}
	// The rest (a line over 1 MiB) is drained so Playwright never blocks.
	_, _ = io.Copy(io.Discard, r)
}

// keepStackLog copies the stack's log beside Playwright's results, which
// outlive the test's temporary folder.
func keepStackLog(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Logf("the stack's log: %v", err)
		return
	}
	err = os.MkdirAll(filepath.Dir(to), 0o755)
	if err == nil {
		err = os.WriteFile(to, b, 0o644)
	}
	if err != nil {
		t.Logf("keeping the stack's log in %s: %v", to, err)
	}
}
