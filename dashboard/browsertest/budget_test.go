package browsertest

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// firstLoadBudget is issue 11's budget for the JavaScript a first load
// fetches, gzipped.
const firstLoadBudget = 300 << 10

// firstLoadRE finds the scripts index.html loads at once: its module
// scripts and the chunks it preloads (lazy routes' chunks are not in it).
var firstLoadRE = regexp.MustCompile(`<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="(/[^"]+\.js)"`)

// TestFirstLoadJavaScriptBudget sums the gzipped size of the JavaScript
// dashboard/dist/index.html loads at once and holds it to the budget.
func TestFirstLoadJavaScriptBudget(t *testing.T) {
	dir := dashboardDir(t)
	index, err := os.ReadFile(filepath.Join(dir, "dist", "index.html"))
	if err != nil {
		t.Fatalf("the dashboard is not built (%v): make test and make build build it, or: cd dashboard && npm run build", err)
	}
	matches := firstLoadRE.FindAllSubmatch(index, -1)
	if len(matches) == 0 {
		t.Fatalf("dist/index.html loads no script from /...js: %.500s", index)
	}
	total := 0
	seen := map[string]bool{}
	for _, m := range matches {
		src := string(m[1])
		if seen[src] {
			continue
		}
		seen[src] = true
		b, err := os.ReadFile(filepath.Join(dir, "dist", filepath.FromSlash(strings.TrimPrefix(src, "/"))))
		if err != nil {
			t.Fatalf("index.html loads %s: %v", src, err)
		}
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes, %d gzipped", src, len(b), gz.Len())
		total += gz.Len()
	}
	t.Logf("first load: %d KiB of JavaScript gzipped (budget %d KiB)", total>>10, firstLoadBudget>>10)
	if total > firstLoadBudget {
		t.Errorf("the first load fetches %d bytes of gzipped JavaScript, over the %d-byte budget (issue 11): split a route or drop a dependency", total, firstLoadBudget)
	}
}
