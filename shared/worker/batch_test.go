package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/apigwtest"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/paging"
	"github.com/jobweaver/jobweaver/shared/step"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// itemTarget is a counting HTTP target for batch items: it counts each
// path's hits and records the bodies; a path in fail answers 500 to its
// first failFor hits; a path equal to hang blocks its first hit until
// release is closed; delay slows every answer.
type itemTarget struct {
	mu      sync.Mutex
	hits    map[string]int
	bodies  map[string]string
	queries map[string]string
	fail    map[string]int
	hang    string
	release chan struct{}
	hung    chan struct{}
	delay   time.Duration
}

func newItemTarget(tb testing.TB) (*itemTarget, *httptest.Server) {
	it := &itemTarget{hits: map[string]int{}, bodies: map[string]string{}, queries: map[string]string{}, fail: map[string]int{},
		release: make(chan struct{}), hung: make(chan struct{})}
	srv := httptest.NewServer(it)
	tb.Cleanup(srv.Close)
	return it, srv
}

func (it *itemTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	it.mu.Lock()
	it.hits[r.URL.Path]++
	n := it.hits[r.URL.Path]
	it.bodies[r.URL.Path] = string(b)
	it.queries[r.URL.Path] = r.URL.RawQuery
	failing := n <= it.fail[r.URL.Path]
	it.mu.Unlock()
	if r.URL.Path == it.hang && n == 1 {
		close(it.hung)
		<-it.release
	}
	if it.delay > 0 {
		time.Sleep(it.delay)
	}
	if failing {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
}

func (it *itemTarget) count(path string) int {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.hits[path]
}

// batchPayload is a BATCH_PROCESS payload of n items {"id": i} whose step
// is stepJSON.
func batchPayload(n, chunk int, extra, stepJSON string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"id":%d,"name":"n/%d &x"}`, i, i)
	}
	return fmt.Sprintf(`{"items":[%s],"chunkSize":%d%s,"step":%s}`, strings.Join(items, ","), chunk, extra, stepJSON)
}

func itemsPage(tb testing.TB, b *bundle, jobID, query string) paging.Page[internalapi.Item] {
	tb.Helper()
	code, body := apigwtest.Call(context.Background(), tb, b.svc.Handle, http.MethodGet, "/internal/items/"+jobID+query, "")
	var p paging.Page[internalapi.Item]
	if err := json.Unmarshal(body, &p); err != nil || code != 200 {
		tb.Fatalf("items%s: %d %s", query, code, body)
	}
	return p
}

// allItems pages through a job's items with limit, following nextCursor.
func allItems(tb testing.TB, b *bundle, jobID string, limit int, status string) []internalapi.Item {
	tb.Helper()
	var out []internalapi.Item
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if status != "" {
		q.Set("status", status)
	}
	for range 100_000 {
		p := itemsPage(tb, b, jobID, "?"+q.Encode())
		out = append(out, p.Content...)
		if p.NextCursor == "" {
			return out
		}
		q.Set("cursor", p.NextCursor)
	}
	tb.Fatal("the items never ended")
	return nil
}

type batchOut struct {
	Total, Succeeded, Failed, Pending, MaxFailedItems, ChunkSize, Chunks, Pass, RanItems int

	FirstError *struct {
		Index     int
		ErrorCode string
		Error     string
	}
}

func outputOf(tb testing.TB, e worker.Execution) batchOut {
	tb.Helper()
	var o batchOut
	if len(e.Steps) != 1 || json.Unmarshal(e.Steps[0].Output, &o) != nil {
		tb.Fatalf("execution steps %+v", e.Steps)
	}
	return o
}

// Each item's HTTP_CALL runs once, with its templates filled in (the
// path URL-escaped, the body JSON-encoded, a header as text); the
// output counts them and each item's output is paged by index.
func TestBatchRunsEachItemOnce(t *testing.T) {
	it, srv := newItemTarget(t)
	b := setup(t, worker.Config{HTTPAllowlist: []string{"127.0.0.1/32"}, PageSizeMax: 1000})
	jobID := uuid.NewString()
	stepJSON := `{"action":"HTTP_CALL","method":"POST","url":"` + srv.URL + `/i/{{item.id}}?name={{item.name}}",
		"headers":{"X-Item":"{{index}}"},"body":{"item":"{{item}}","label":"#{{item.id}}: {{item.name}}"}}`
	const n = 250
	if err := b.svc.HandleKafka(context.Background(), batch(typedJob(t, jobID, 1, "BATCH_PROCESS", batchPayload(n, 100, "", stepJSON)))); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if c := it.count(fmt.Sprintf("/i/%d", i)); c != 1 {
			t.Fatalf("item %d called %d times", i, c)
		}
	}
	it.mu.Lock()
	body, query := it.bodies["/i/7"], it.queries["/i/7"]
	it.mu.Unlock()
	if body != `{"item":{"id":7,"name":"n/7 \u0026x"},"label":"#7: n/7 \u0026x"}` && body != `{"item":{"id":7,"name":"n/7 &x"},"label":"#7: n/7 &x"}` {
		t.Errorf("item 7 body %s", body)
	}
	if query != "name=n%2F7%20%26x" {
		t.Errorf("item 7 query %q", query)
	}
	e := executions(t, b, jobID)
	if len(e) != 1 || e[0].Status != "COMPLETED" || e[0].Steps[0].Action != "HTTP_CALL" {
		t.Fatalf("executions %+v", e)
	}
	if o := outputOf(t, e[0]); o.Total != n || o.Succeeded != n || o.Failed != 0 || o.Chunks != 3 || o.ChunkSize != 100 || o.RanItems != n {
		t.Fatalf("output %+v", o)
	}
	items := allItems(t, b, jobID, 40, "")
	if len(items) != n {
		t.Fatalf("%d items paged; want %d", len(items), n)
	}
	for i, item := range items {
		if item.Index != i || item.Status != "SUCCEEDED" || !strings.Contains(string(item.Output), fmt.Sprintf(`"path":"/i/%d"`, i)) {
			t.Fatalf("item %d: %+v %s", i, item, item.Output)
		}
	}
	// The result event carries the step's outcome, not the items.
	envs, _ := read(t, b.brokers, envelope.TopicJobCompleted, 1)
	if len(envs[0].Payload) > 2000 || strings.Contains(string(envs[0].Payload), "/i/7") {
		t.Errorf("job-completed carries item results (%d bytes)", len(envs[0].Payload))
	}
}

// Failed items do not stop the others. With more failures than
// maxFailedItems the attempt fails; the retry runs only the failed items.
// With maxFailedItems at the count, the job completes with them counted.
func TestBatchItemFailuresAndRetry(t *testing.T) {
	for _, c := range []struct {
		name      string
		maxFailed int
		attempts  int
	}{
		{"retry runs only the failed items", 0, 2},
		{"failures within maxFailedItems", 2, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			it, srv := newItemTarget(t)
			it.fail["/i/3"], it.fail["/i/17"] = 1, 1
			b := setup(t, worker.Config{HTTPAllowlist: []string{"127.0.0.1/32"}})
			jobID := uuid.NewString()
			payload := batchPayload(30, 7, fmt.Sprintf(`,"maxFailedItems":%d`, c.maxFailed), `{"action":"HTTP_CALL","url":"`+srv.URL+`/i/{{item.id}}"}`)
			for a := 1; a <= c.attempts; a++ {
				if err := b.svc.HandleKafka(context.Background(), batch(typedJob(t, jobID, a, "BATCH_PROCESS", payload))); err != nil {
					t.Fatal(err)
				}
			}
			e := executions(t, b, jobID)
			if len(e) != c.attempts {
				t.Fatalf("%d executions", len(e))
			}
			first := outputOf(t, e[0])
			if first.Failed != 2 || first.Succeeded != 28 || first.FirstError == nil || first.FirstError.Index != 3 ||
				!strings.Contains(first.FirstError.Error, "answered 500") {
				t.Fatalf("first output %+v", first)
			}
			last := e[len(e)-1]
			if last.Status != "COMPLETED" {
				t.Fatalf("last execution %+v", last)
			}
			if c.attempts == 2 {
				if e[0].ErrorCode != worker.CodeBatchItemsFailed || !strings.Contains(e[0].Error, "2 of 30 items failed") {
					t.Errorf("first attempt %s %s", e[0].ErrorCode, e[0].Error)
				}
				if o := outputOf(t, last); o.Failed != 0 || o.Succeeded != 30 || o.Pass != 2 || o.RanItems != 2 {
					t.Errorf("retry output %+v", o)
				}
			}
			for i := range 30 {
				want := 1
				if (i == 3 || i == 17) && c.attempts == 2 {
					want = 2
				}
				if got := it.count(fmt.Sprintf("/i/%d", i)); got != want {
					t.Errorf("item %d called %d times; want %d", i, got, want)
				}
			}
			failed := allItems(t, b, jobID, 100, "FAILED")
			if c.attempts == 1 && (len(failed) != 2 || failed[0].Index != 3 || failed[0].ErrorCode != worker.CodeStepFailed) {
				t.Errorf("failed items %+v", failed)
			}
			if c.attempts == 2 && len(failed) != 0 {
				t.Errorf("failed items after the retry %+v", failed)
			}
		})
	}
}

// An item whose filled-in request is invalid (a missing field) fails on
// its own, permanently: with every failure permanent, so is the attempt's.
func TestBatchInvalidItemIsPermanent(t *testing.T) {
	_, srv := newItemTarget(t)
	b := setup(t, worker.Config{HTTPAllowlist: []string{"127.0.0.1/32"}})
	jobID := uuid.NewString()
	payload := `{"items":[{"id":1},{"nope":2},{"id":3}],"step":{"action":"HTTP_CALL","url":"` + srv.URL + `/i/{{item.id}}"}}`
	if err := b.svc.HandleKafka(context.Background(), batch(typedJob(t, jobID, 1, "BATCH_PROCESS", payload))); err != nil {
		t.Fatal(err)
	}
	envs, _ := read(t, b.brokers, envelope.TopicJobFailed, 1)
	r := attemptResult(t, envs[0])
	if r.ErrorCode != worker.CodeBatchItemsFailed || !r.Permanent {
		t.Fatalf("result %+v", r)
	}
	items := allItems(t, b, jobID, 10, "")
	if len(items) != 3 || items[1].Status != "FAILED" || items[1].ErrorCode != step.CodeBatchItemInvalid ||
		!strings.Contains(items[1].Error, `no field "id"`) || items[0].Status != "SUCCEEDED" {
		t.Fatalf("items %+v", items)
	}
}

// A SCRIPT reads its item and index; its result is the item's output.
func TestBatchScriptItems(t *testing.T) {
	b := setup(t, worker.Config{PageSizeMax: 1000})
	jobID := uuid.NewString()
	src, _ := json.Marshal(`result = {"double": item["id"] * 2, "at": index, "upper": item["name"].upper()}`)
	payload := batchPayload(120, 50, "", `{"action":"SCRIPT","source":`+string(src)+`}`)
	if err := b.svc.HandleKafka(context.Background(), batch(typedJob(t, jobID, 1, "BATCH_PROCESS", payload))); err != nil {
		t.Fatal(err)
	}
	items := allItems(t, b, jobID, 1000, "")
	if len(items) != 120 {
		t.Fatalf("%d items", len(items))
	}
	var o struct {
		Double, At int
		Upper      string
	}
	if err := json.Unmarshal(items[41].Output, &o); err != nil || o.Double != 82 || o.At != 41 || o.Upper != "N/41 &X" {
		t.Fatalf("item 41 output %s", items[41].Output)
	}
}

// A worker dies in the third chunk (its attempt never ends); the job's
// next attempt resumes at that chunk: the items of the chunks before it
// are called exactly once across the crash, and those after it once.
func TestBatchResumeAfterACrashBetweenChunks(t *testing.T) {
	it, srv := newItemTarget(t)
	it.hang = "/i/25" // chunk 2 of chunkSize 10
	cfg := worker.Config{HTTPAllowlist: []string{"127.0.0.1/32"}, Batch: worker.BatchConfig{Concurrency: 1}, PageSizeMax: 1000}
	b := setup(t, cfg)
	jobID := uuid.NewString()
	payload := batchPayload(60, 10, "", `{"action":"HTTP_CALL","url":"`+srv.URL+`/i/{{item.id}}","timeoutMs":30000}`)

	doomed, err := worker.New(cfg, b.deps)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = doomed.HandleKafka(context.Background(), batch(typedJob(t, jobID, 1, "BATCH_PROCESS", payload)))
	}()
	t.Cleanup(func() { <-done })
	t.Cleanup(func() { close(it.release) })
	select {
	case <-it.hung:
	case <-time.After(15 * time.Second):
		t.Fatal("item 25 was never reached")
	}
	// The job's next attempt (as after a lost lease), on a live worker.
	if err := b.svc.HandleKafka(context.Background(), batch(typedJob(t, jobID, 2, "BATCH_PROCESS", payload))); err != nil {
		t.Fatal(err)
	}
	e := executions(t, b, jobID)
	if len(e) != 1 || e[0].Status != "COMPLETED" || e[0].Attempt != 2 {
		t.Fatalf("executions %+v", e)
	}
	if o := outputOf(t, e[0]); o.Succeeded != 60 || o.RanItems != 40 {
		t.Fatalf("output %+v: want the 40 items from chunk 2 on run by attempt 2", o)
	}
	for i := range 60 {
		want := 1
		if i == 25 {
			want = 2 // the item the crash cut runs again
		}
		if i >= 20 && i < 25 {
			want = 2 // finished in the crashed chunk, never checkpointed
		}
		if got := it.count(fmt.Sprintf("/i/%d", i)); got != want {
			t.Errorf("item %d called %d times; want %d", i, got, want)
		}
	}
	items := allItems(t, b, jobID, 1000, "")
	for _, item := range items {
		if wantAttempt := map[bool]int{true: 1, false: 2}[item.Index < 20]; item.Attempt != wantAttempt {
			t.Fatalf("item %d ran in attempt %d; want %d", item.Index, item.Attempt, wantAttempt)
		}
	}
}

// Invocations cut by the deadline yield between (and inside) chunks; the
// batch completes over several attempts, each item called once, plus at
// most one item in flight at each cut.
func TestBatchDeadlineCutsResume(t *testing.T) {
	it, srv := newItemTarget(t)
	it.delay = 40 * time.Millisecond
	b := setup(t, worker.Config{HTTPAllowlist: []string{"127.0.0.1/32"}, DeadlineMargin: 200 * time.Millisecond,
		Batch: worker.BatchConfig{Concurrency: 1}})
	jobID := uuid.NewString()
	const n = 40
	payload := batchPayload(n, 7, "", `{"action":"HTTP_CALL","url":"`+srv.URL+`/i/{{item.id}}"}`)
	yields := 0
	for a := 1; a <= 30; a++ {
		ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
		err := b.svc.HandleKafka(ctx, batch(typedJob(t, jobID, a, "BATCH_PROCESS", payload)))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		e := executions(t, b, jobID)
		last := e[len(e)-1]
		if last.Status == "COMPLETED" {
			break
		}
		if last.Status != worker.StatusYielded {
			t.Fatalf("attempt %d: %+v", a, last)
		}
		if o := outputOf(t, last); o.Pending == 0 || o.Pending+o.Succeeded != n {
			t.Fatalf("yielded output %+v", o)
		}
		yields++
	}
	e := executions(t, b, jobID)
	if e[len(e)-1].Status != "COMPLETED" || yields == 0 {
		t.Fatalf("%d yields; last %+v", yields, e[len(e)-1])
	}
	extra := 0
	for i := range n {
		c := it.count(fmt.Sprintf("/i/%d", i))
		if c < 1 {
			t.Fatalf("item %d never called", i)
		}
		extra += c - 1
	}
	if extra > yields {
		t.Fatalf("%d repeated calls over %d yields", extra, yields)
	}
}

func TestBatchItemsRoute(t *testing.T) {
	b := setup(t, worker.Config{})
	jobID := uuid.NewString()
	if err := b.svc.HandleKafka(context.Background(), batch(typedJob(t, jobID, 1, "BATCH_PROCESS",
		`{"items":[1,2,3,4,5],"step":{"action":"LOG","message":"item {{index}}: {{item}}"}}`))); err != nil {
		t.Fatal(err)
	}
	p := itemsPage(t, b, jobID, "?limit=2")
	if len(p.Content) != 2 || p.TotalElements != 5 || p.TotalPages != 3 || p.NextCursor == "" || p.Content[0].Output != nil {
		t.Fatalf("page %+v", p)
	}
	p = itemsPage(t, b, jobID, "?limit=2&cursor="+p.NextCursor)
	if len(p.Content) != 2 || p.Content[0].Index != 2 {
		t.Fatalf("second page %+v", p)
	}
	if p := itemsPage(t, b, uuid.NewString(), ""); len(p.Content) != 0 || p.TotalElements != 0 || p.NextCursor != "" {
		t.Fatalf("unknown job %+v", p)
	}
	for _, q := range []string{"?cursor=xyz", "?limit=0", "?status=DONE"} {
		code, body := apigwtest.Call(context.Background(), t, b.svc.Handle, http.MethodGet, "/internal/items/"+jobID+q, "")
		if code != 400 || !strings.Contains(string(body), "WORKER.INVALID") {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}
	if !strings.Contains(b.logs.String(), `item 3: 4`) {
		t.Error("the LOG message was not filled in")
	}
}
