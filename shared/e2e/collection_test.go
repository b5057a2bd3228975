package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/devstack"
)

// The original JobWeaver's client collection runs unchanged against the
// local stack: its api requests against the public API, and its
// scheduler_url/worker_url requests against the scheduler's and worker's
// internal routes, which the local stack serves on their own ports as the
// original's services did.
func TestOriginalClientCollection(t *testing.T) {
	runCollection(t, startStack(t, nil), "")
}

// With API_AUTH=keys the same collection passes through a collection
// variable: a copy of it authenticates every request with the bearer
// token {{api_key}}, set to an operator's key (the least role that may
// submit), and its internal requests carry the stack's internal secret,
// which the internal routes ask for on reads too when auth is on.
func TestOriginalClientCollectionWithKeys(t *testing.T) {
	s, admin := authStack(t)
	operator, _ := s.newKey(t, admin, "operator", "")
	raw, err := os.ReadFile(collectionPath(t))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c["auth"] != nil {
		t.Fatalf("the collection has auth already: %v", c["auth"])
	}
	c["auth"] = map[string]any{"type": "bearer", "bearer": []any{
		map[string]any{"key": "token", "value": "{{api_key}}", "type": "string"}}}
	// With auth on, the internal routes (scheduler_url, worker_url) need
	// the stack's internal secret on reads too.
	if n := addInternalSecret(c["item"]); n == 0 {
		t.Fatal("the collection has no request to scheduler_url or worker_url")
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "collection.json")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	runCollection(t, s, path, "--env-var", "api_key="+operator, "--env-var", "internal_secret="+s.InternalSecret)
	// And without the key it is refused: the stack does check keys.
	if r := s.Do(t, "GET", "/api/jobs", ""); r.Status != 401 {
		t.Fatalf("GET /api/jobs without a key = %d", r.Status)
	}
}

// addInternalSecret adds the header of the internal secret,
// {{internal_secret}}, to every request of items (a Postman item list,
// folders included) whose URL starts with {{scheduler_url}} or
// {{worker_url}}, and returns how many it changed.
func addInternalSecret(items any) int {
	n := 0
	list, _ := items.([]any)
	for _, it := range list {
		item, _ := it.(map[string]any)
		n += addInternalSecret(item["item"])
		req, _ := item["request"].(map[string]any)
		if req == nil {
			continue
		}
		raw, _ := req["url"].(string)
		if u, ok := req["url"].(map[string]any); ok {
			raw, _ = u["raw"].(string)
		}
		if !strings.HasPrefix(raw, "{{scheduler_url}}") && !strings.HasPrefix(raw, "{{worker_url}}") {
			continue
		}
		headers, _ := req["header"].([]any)
		req["header"] = append(headers, map[string]any{"key": devstack.InternalSecretHeader, "value": "{{internal_secret}}"})
		n++
	}
	return n
}

// collectionPath is JOBWEAVER_COLLECTION, or the original's collection.
func collectionPath(t *testing.T) string {
	if c := os.Getenv("JOBWEAVER_COLLECTION"); c != "" {
		return c
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "docs", "reference", "JobWeaver.postman_collection.json")
}

// runCollection runs a client collection (empty: collectionPath) with
// newman against s, with extra newman arguments; every request must
// succeed.
func runCollection(t *testing.T, s *stack, collection string, extra ...string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	newman := filepath.Join(root, "node_modules", ".bin", "newman")
	if _, err := os.Stat(newman); err != nil {
		t.Fatalf("newman is not installed (%v): run `make node_modules/.bin/newman` (npm ci at the repository root, plus the go.mod that keeps `go ... ./...` out of node_modules) (needs Node.js and npm: sudo apt-get install nodejs npm)", err)
	}
	if collection == "" {
		collection = collectionPath(t)
	}
	args := append([]string{"run", collection,
		"--env-var", "api_url=" + s.APIURL,
		"--env-var", "scheduler_url=" + s.SchedulerURL,
		"--env-var", "worker_url=" + s.WorkerURL,
		"--delay-request", "200",
		"--color", "off", "--disable-unicode", "--no-insecure-file-read"}, extra...)
	cmd := exec.Command(newman, args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	t.Logf("newman:\n%s", out)
	if err != nil {
		t.Fatalf("newman failed: %v", err)
	}
	// Every request must have been answered with a success status.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, " [4") || strings.Contains(line, " [5") {
			t.Errorf("a request got an error status: %s", line)
		}
	}
}
