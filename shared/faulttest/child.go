package faulttest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/stacktest"
)

// childEnv marks a re-executed test binary that runs a stack (its value
// is the stack's database prefix).
const childEnv = "JOBWEAVER_FAULTTEST_CHILD"

// readyPrefix starts the line a child prints once its stack serves.
const readyPrefix = "FAULTTEST-READY "

// Main is the TestMain of a package that uses Child: in a child process
// it runs the stack until killed, otherwise the tests.
func Main(m *testing.M) {
	if prefix := os.Getenv(childEnv); prefix != "" {
		os.Exit(runChild(prefix))
	}
	os.Exit(m.Run())
}

// ready is what a child tells its parent.
type ready struct {
	APIURL  string   `json:"apiUrl"`
	Brokers []string `json:"brokers"`
}

func runChild(prefix string) int {
	cfg, err := devstack.ConfigFromEnv(config.FromOS())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg.KafkaPort = 0
	cfg.DatabasePrefix = prefix
	cfg.Logs = io.Discard
	ctx, cancel := context.WithTimeout(context.Background(), stacktest.Bound)
	st, err := devstack.Start(ctx, cfg, io.Discard)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, _ := json.Marshal(ready{APIURL: st.APIURL, Brokers: st.Brokers})
	fmt.Printf("%s%s\n", readyPrefix, b)
	select {}
}

// Child is a stack that runs in a child process (this test binary,
// re-executed), so that a case can kill it with SIGKILL and start it
// again on the same data folder and databases.
type Child struct {
	APIURL  string
	Brokers []string
	DBs     *DBs // opened at the first start

	cfg  devstack.Config
	env  []string
	kill func()
}

// NewChild prepares a child stack: stacktest.Config's data folder,
// databases (dropped at the end) and free ports, with vars.
func NewChild(tb testing.TB, name string, vars map[string]string) *Child {
	tb.Helper()
	cfg := stacktest.Config(tb, name, vars)
	env := []string{
		childEnv + "=" + cfg.DatabasePrefix,
		"DATA_DIR=" + cfg.DataDir,
		"DATABASE_URL=" + cfg.DatabaseURL,
		"API_ADDR=127.0.0.1:0", "SCHEDULER_ADDR=127.0.0.1:0", "WORKER_ADDR=127.0.0.1:0",
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+vars[k])
	}
	return &Child{cfg: cfg, env: env}
}

// Start starts the stack and waits until it serves.
func (c *Child) Start(tb testing.TB) {
	tb.Helper()
	if c.kill != nil {
		tb.Fatal("faulttest: the child stack is already running")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), c.env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), readyPrefix) {
				lines <- strings.TrimPrefix(sc.Text(), readyPrefix)
			}
		}
		close(lines)
	}()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	killed := false
	c.kill = func() {
		if !killed {
			killed = true
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	tb.Cleanup(c.Kill)
	select {
	case line, ok := <-lines:
		var r ready
		if !ok || json.Unmarshal([]byte(line), &r) != nil {
			c.Kill()
			tb.Fatalf("the child stack did not start: %q\n%s", line, stderr.String())
		}
		c.APIURL, c.Brokers = r.APIURL, r.Brokers
	case <-time.After(stacktest.Bound):
		c.Kill()
		tb.Fatalf("the child stack did not start within %s\n%s", stacktest.Bound, stderr.String())
	}
	if c.DBs == nil {
		c.DBs = OpenDBs(tb, c.cfg.DatabaseURL, c.cfg.DatabasePrefix, c.Brokers)
	}
	c.DBs.Brokers = c.Brokers // a new port after each start
}

// Kill ends the stack with SIGKILL and waits until it is gone.
func (c *Child) Kill() {
	if c.kill != nil {
		c.kill()
		c.kill = nil
	}
}
