package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The original JobWeaver's client collection runs unchanged against the
// local stack: its api requests against the public API, and its
// scheduler_url/worker_url requests against the scheduler's and worker's
// internal routes, which the local stack serves on their own ports as the
// original's services did.
func TestOriginalClientCollection(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	newman := filepath.Join(root, "node_modules", ".bin", "newman")
	if _, err := os.Stat(newman); err != nil {
		t.Fatalf("newman is not installed (%v): run `npm ci` at the repository root (needs Node.js and npm: sudo apt-get install nodejs npm)", err)
	}
	collection := os.Getenv("JOBWEAVER_COLLECTION")
	if collection == "" {
		collection = filepath.Join(root, "docs", "reference", "JobWeaver.postman_collection.json")
	}
	s := startStack(t, nil)
	cmd := exec.Command(newman, "run", collection,
		"--env-var", "api_url="+s.APIURL,
		"--env-var", "scheduler_url="+s.SchedulerURL,
		"--env-var", "worker_url="+s.WorkerURL,
		"--delay-request", "200",
		"--color", "off", "--disable-unicode", "--no-insecure-file-read")
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
