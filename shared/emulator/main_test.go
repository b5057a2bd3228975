package emulator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The binaries every test shares: built once per test binary.
var (
	buildOnce  sync.Once
	buildErr   error
	buildDir   string
	rieBin     string
	bootstraps map[string]string
	fixtureBin string
	repoRoot   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binaries builds (once) the emulator, the four functions' bootstraps for
// the host and the fixture function, logging progress to t.
func binaries(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if repoRoot, buildErr = Root(ctx); buildErr != nil {
			return
		}
		start := time.Now()
		var log strings.Builder
		if rieBin, buildErr = BuildRIE(ctx, repoRoot, &log); buildErr != nil {
			return
		}
		if log.Len() > 0 {
			t.Logf("%sbuilt in %v", log.String(), time.Since(start).Round(time.Millisecond))
		} else {
			t.Logf("emulator %s (cached)", rieBin)
		}
		if buildDir, buildErr = os.MkdirTemp("", "jobweaver-emulator-"); buildErr != nil {
			return
		}
		start = time.Now()
		if bootstraps, buildErr = BuildBootstraps(ctx, repoRoot, buildDir); buildErr != nil {
			return
		}
		fixtureBin = filepath.Join(buildDir, "fixture", "bootstrap")
		args := append([]string{"build"}, BuildFlags...)
		args = append(args, "-o", fixtureBin, "./shared/emulator/testdata/fixture")
		if _, buildErr = goCmd(ctx, repoRoot, []string{"CGO_ENABLED=0", "GOOS=linux"}, args...); buildErr != nil {
			return
		}
		var sizes []string
		for _, n := range Functions {
			if fi, err := os.Stat(bootstraps[n]); err == nil {
				sizes = append(sizes, fmt.Sprintf("%s %.1f MB", n, float64(fi.Size())/1e6))
			}
		}
		t.Logf("built the bootstraps for the host (%s) in %v", strings.Join(sizes, ", "), time.Since(start).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
}

// rieLine matches the emulator's own lines (as opposed to the function's).
var rieLine = regexp.MustCompile(`^(\d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2},\d{3} \[\w+\] \(rapid\)|START RequestId:|END RequestId:|REPORT RequestId:)`)

// functionLines keeps the lines the function itself printed.
func functionLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		if !rieLine.MatchString(l) && strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// dumpOnFailure logs the latest lines of each function when t fails.
func dumpOnFailure(t *testing.T, c **Cluster, names ...string) {
	t.Cleanup(func() {
		if !t.Failed() || *c == nil {
			return
		}
		for _, n := range names {
			lines := (*c).Lines(n)
			t.Logf("--- last lines of %s ---\n%s", n, strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})
}
