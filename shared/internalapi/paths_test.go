package internalapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Each path builder makes a path that its route pattern matches, with the
// ID as the pattern's wildcard.
func TestPathsMatchTheirPatterns(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pattern, wildcard string
		build             func(string) string
	}{
		{PathJobStatus, "id", JobStatusPath},
		{PathJobCancel, "id", JobCancelPath},
		{PathExecutions, "jobId", ExecutionsPath},
		{PathItems, "jobId", ItemsPath},
		{PathDeadLetter, "id", DeadLetterPath},
		{PathJobRetry, "id", JobRetryPath},
		{PathJobHistory, "id", JobHistoryPath},
		{PathJobCallback, "id", JobCallbackPath},
	} {
		for _, id := range []string{"6f1c0a52-8a55-4c35-9d62-0c4f0e0c2b1a", "a/b c"} {
			mux := http.NewServeMux()
			var got string
			matched := false
			mux.HandleFunc(c.pattern, func(_ http.ResponseWriter, r *http.Request) {
				matched, got = true, r.PathValue(c.wildcard)
			})
			mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, c.build(id), nil))
			if !matched || got != id {
				t.Errorf("%s: %s matched %v with %s=%q; want %q", c.pattern, c.build(id), matched, c.wildcard, got, id)
			}
		}
	}
}

func TestTerminal(t *testing.T) {
	t.Parallel()
	want := map[string]bool{StatusPending: false, StatusRunning: false, StatusCompleted: true, StatusFailed: true, StatusCancelled: true, StatusWaiting: false}
	if len(want) != len(Statuses) {
		t.Fatalf("Statuses %v; the test knows %d", Statuses, len(want))
	}
	for _, s := range Statuses {
		if Terminal(s) != want[s] {
			t.Errorf("Terminal(%s) = %v", s, Terminal(s))
		}
	}
}
