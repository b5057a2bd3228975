package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
)

// itemReceiver counts the calls of each item (path /i/{index}) and keeps
// what each sent: the body and the query's v.
type itemReceiver struct {
	mu     sync.Mutex
	hits   map[int]int
	bodies map[int]string
	vs     map[int]string
}

func (h *itemReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/i/"))
	if err != nil || r.Header.Get("X-Item") != strconv.Itoa(i) {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.hits[i]++
	h.bodies[i], h.vs[i] = string(b), r.URL.Query().Get("v")
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"item":%d}`, i)
}

// The largest BATCH_PROCESS job the api takes (10,000 items of the
// characters JSON treats specially, the body at the api's 256 KiB limit)
// goes through the whole stack: accepted, run (each item's call once,
// its item JSON-encoded into the body and URL-escaped into the query),
// its output {total, succeeded, failed} in /executions, its 10,000 items
// paged out of /items; no event comes near the broker's limit, and the
// result events do not grow with the items.
func TestBatchAtItsMaximumThroughTheStack(t *testing.T) {
	s := startStack(t, map[string]string{"API_PAGE_SIZE_MAX": "1000", "WORKER_PAGE_SIZE_MAX": "1000"})
	h := &itemReceiver{hits: map[int]int{}, bodies: map[int]string{}, vs: map[int]string{}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	fixture, err := os.ReadFile(filepath.Join("..", "jobspec", "testdata", "batch_max.json"))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(fixture), "http://TARGET", srv.URL, 1)
	if len(body) > 256<<10 {
		t.Fatalf("the job is %d bytes; the api takes 262144", len(body))
	}
	var sent struct {
		Payload struct{ Items []string }
	}
	if err := json.Unmarshal([]byte(body), &sent); err != nil || len(sent.Payload.Items) != 10_000 {
		t.Fatalf("fixture: %d items, %v", len(sent.Payload.Items), err)
	}

	t0 := time.Now()
	id := s.Submit(t, body)
	job := s.WaitStatus(t, id, "COMPLETED", "FAILED")
	took := time.Since(t0)
	if job["status"] != "COMPLETED" {
		t.Fatalf("job %v", job)
	}
	t.Logf("10,000 items: submit to COMPLETED in %s", took.Round(time.Millisecond))

	h.mu.Lock()
	for i, item := range sent.Payload.Items {
		if h.hits[i] != 1 {
			t.Errorf("item %d called %d times", i, h.hits[i])
			continue
		}
		var got struct {
			V string
			I int
		}
		if err := json.Unmarshal([]byte(h.bodies[i]), &got); err != nil || got.V != item || got.I != i || h.vs[i] != item {
			t.Errorf("item %d sent body %q, query v %q; want the item %q", i, h.bodies[i], h.vs[i], item)
		}
		if t.Failed() {
			break
		}
	}
	h.mu.Unlock()

	ex := executionsOf(t, s, id)
	if len(ex) != 1 {
		t.Fatalf("%d executions", len(ex))
	}
	out, _ := stepsOf(t, ex[0])[0]["output"].(map[string]any)
	if out["total"] != 10_000.0 || out["succeeded"] != 10_000.0 || out["failed"] != 0.0 || out["chunks"] != 100.0 {
		t.Fatalf("batch output %v", out)
	}

	t1 := time.Now()
	seen, cursor := 0, ""
	for pages := 0; ; pages++ {
		q := url.Values{"limit": {"1000"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r := s.Do(t, http.MethodGet, "/api/jobs/"+id+"/items?"+q.Encode(), "")
		if r.Status != http.StatusOK {
			t.Fatalf("items = %d %.300s", r.Status, r.Body)
		}
		var p struct {
			Content []struct {
				Index  int
				Status string
				Output struct {
					Status int
					Body   struct{ Item int }
				}
			}
			TotalElements int
			NextCursor    string
		}
		if err := json.Unmarshal(r.Body, &p); err != nil || p.TotalElements != 10_000 {
			t.Fatalf("items page: %v, total %d", err, p.TotalElements)
		}
		for _, it := range p.Content {
			if it.Index != seen || it.Status != "SUCCEEDED" || it.Output.Status != 200 || it.Output.Body.Item != seen {
				t.Fatalf("item %d: %+v", seen, it)
			}
			seen++
		}
		if cursor = p.NextCursor; cursor == "" || pages > 20 {
			break
		}
	}
	if seen != 10_000 {
		t.Fatalf("paged %d items", seen)
	}
	t.Logf("10,000 items paged out (limit 1000) in %s", time.Since(t1).Round(time.Millisecond))

	// The payload rides job-created and run-job, within the broker's
	// limit; the result events carry counts only.
	for topic, limit := range map[string]int{
		envelope.TopicJobCreated:   kafka.MaxEventBytes,
		envelope.TopicRunJob:       kafka.MaxEventBytes,
		envelope.TopicJobCompleted: 4096,
	} {
		n := 0
		for _, r := range kafkatest.ReadAll(t, s.Brokers, topic, 1, 30*time.Second) {
			if string(r.Key) != id {
				continue
			}
			n++
			if len(r.Value) > limit {
				t.Errorf("%s record takes %d bytes; want at most %d", topic, len(r.Value), limit)
			}
			t.Logf("%s record: %d bytes", topic, len(r.Value))
		}
		if n == 0 {
			t.Errorf("no %s record of the job", topic)
		}
	}
}
