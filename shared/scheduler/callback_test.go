package scheduler

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

func TestCallbackMatches(t *testing.T) {
	t.Parallel()
	tok := "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
	for _, c := range []struct {
		name   string
		status string
		stored *string
		open   bool
		got    string
		want   bool
	}{
		{"waiting, open, same token", internalapi.StatusWaiting, &tok, true, tok, true},
		{"wrong token", internalapi.StatusWaiting, &tok, true, strings.ToLower(tok), false},
		{"token's prefix", internalapi.StatusWaiting, &tok, true, tok[:31], false},
		{"empty token", internalapi.StatusWaiting, &tok, true, "", false},
		{"used (cleared)", internalapi.StatusWaiting, nil, true, tok, false},
		{"timed out", internalapi.StatusWaiting, &tok, false, tok, false},
		{"woken (PENDING)", internalapi.StatusPending, &tok, true, tok, false},
		{"running", internalapi.StatusRunning, &tok, true, tok, false},
		{"cancelled", internalapi.StatusCancelled, &tok, true, tok, false},
		{"failed", internalapi.StatusFailed, &tok, true, tok, false},
	} {
		if got := callbackMatches(c.status, c.stored, c.open, c.got); got != c.want {
			t.Errorf("%s: callbackMatches = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNewCallbackToken(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		tok, err := newCallbackToken()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != TokenLen || TokenLen != 32 || strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("token %q: want %d URL-safe characters", tok, TokenLen)
		}
		if seen[tok] {
			t.Fatalf("token %q made twice", tok)
		}
		seen[tok] = true
	}
}

func TestDecodeCallback(t *testing.T) {
	t.Parallel()
	big := `"` + strings.Repeat("a", envelope.MaxCallbackBytes-2) + `"`
	for _, c := range []struct {
		name, body, want string // want: the kept body, or "" for a 400
	}{
		{"object compacted", `{"token":"t","body":{ "ok" : true }}`, `{"ok":true}`},
		{"null body", `{"token":"t","body":null}`, `null`},
		{"largest", `{"token":"t","body":` + big + `}`, big},
		{"one byte over", `{"token":"t","body":"a` + big[1:] + `}`, ""},
		{"NUL escape", `{"token":"t","body":"\u0000"}`, ""},
		{"lone surrogate", `{"token":"t","body":["\ud800"]}`, ""},
		{"surrogate pair", `{"token":"t","body":"\ud83d\ude00"}`, `"\ud83d\ude00"`},
		{"no token", `{"body":{}}`, ""},
		{"no body", `{"token":"t"}`, ""},
		{"unknown field", `{"token":"t","body":{},"x":1}`, ""},
		{"trailing data", `{"token":"t","body":{}} {}`, ""},
	} {
		req, err := decodeCallback([]byte(c.body))
		switch {
		case c.want == "" && err == nil:
			t.Errorf("%s: accepted %q", c.name, req.Body)
		case c.want != "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && string(req.Body) != c.want:
			t.Errorf("%s: kept %.80q, want %.80q", c.name, req.Body, c.want)
		}
	}
}

// pipelinePayload is a DATA_PIPELINE payload whose step 1 waits for a
// callback and step 3 for another.
const pipelinePayload = `{"steps":[{"action":"LOG","message":"a"},{"id":"approval","action":"WAIT_FOR_CALLBACK","timeoutMs":60000},` +
	`{"action":"LOG","message":"b"},{"action":"WAIT_FOR_CALLBACK"}]}`

func newPipelineCreated(t *testing.T) envelope.Envelope {
	t.Helper()
	id := uuid.NewString()
	e, err := envelope.New(envelope.TypeJobCreated, "trace-"+id[:8], id, envelope.JobCreated{
		JobSpec:   envelope.JobSpec{JobType: "DATA_PIPELINE", Payload: json.RawMessage(pipelinePayload), MaxRetryCount: 0},
		CreatedAt: time.Now().UTC(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// awaitResult is the job-failed event of an attempt parked for step k's
// callback until until.
func awaitResult(t *testing.T, jobID string, attempt, k int, stepID string, until time.Time) envelope.Envelope {
	t.Helper()
	r := envelope.AttemptResult{Attempt: attempt, StartedAt: time.Now().UTC(), FinishedAt: time.Now().UTC(), DurationMs: 3,
		ErrorCode: "WORKER.PARKED", Error: "waits", ParkUntil: &until,
		AwaitCallback: &envelope.AwaitCallback{StepIndex: k, StepID: stepID}}
	e, err := envelope.New(envelope.TypeJobFailed, "trace-result", jobID, r)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// status is the job's status as the internal status route answers it.
func (b *testBundle) status(t *testing.T, id string) internalapi.JobStatus {
	t.Helper()
	rec := b.serve(t, http.MethodGet, internalapi.JobStatusPath(id), "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d %s", rec.Code, rec.Body)
	}
	return decodeJSON[internalapi.JobStatus](t, rec)
}

func (b *testBundle) callback(t *testing.T, id, token, body string) int {
	t.Helper()
	req, _ := envelope.JSON(internalapi.CallbackRequest{Token: token, Body: json.RawMessage(body)})
	rec := b.serve(t, http.MethodPost, internalapi.JobCallbackPath(id), string(req))
	if rec.Code == http.StatusNotFound {
		if m := decodeJSON[map[string]any](t, rec); m["errorCode"] != CodeCallbackNotFound {
			t.Fatalf("404 body %s", rec.Body)
		}
	}
	return rec.Code
}

// waitingJob ingests a pipeline job whose attempt 1 parks for step 1's
// callback, an hour away, and returns its ID and token.
func (b *testBundle) waitingJob(t *testing.T) (id, token string) {
	t.Helper()
	created := newPipelineCreated(t)
	b.consume(t, b.svc, created)
	b.consume(t, b.svc, awaitResult(t, created.JobID, 1, 1, "approval", time.Now().Add(time.Hour).UTC()))
	c := b.status(t, created.JobID).Callback
	if c == nil {
		t.Fatal("the parked job has no open callback")
	}
	return created.JobID, c.Token
}

// lastRunJob is the newest run-job record.
func (b *testBundle) lastRunJob(t *testing.T, want int) envelope.RunJob {
	t.Helper()
	recs := b.read(t, envelope.TopicRunJob, want)
	return decodePayload[envelope.RunJob](t, recs[want-1])
}

// A park with awaitCallback makes the job WAITING with an open token
// that its status shows; a wrong token is refused; the right one is taken
// once (the job PENDING, due now) and refused after; the next dispatch
// carries the body; a second wait replaces the first with a new token.
func TestCallbackTakenOnceAndCarriedToTheNextAttempts(t *testing.T) {
	b := setup(t, nil)
	created := newPipelineCreated(t)
	id := created.JobID
	b.consume(t, b.svc, created) // dispatched: attempt 1
	until := time.Now().Add(time.Minute).UTC().Truncate(time.Microsecond)
	b.consume(t, b.svc, awaitResult(t, id, 1, 1, "approval", until))
	st := b.status(t, id)
	c := st.Callback
	if st.Status != internalapi.StatusWaiting || c == nil || len(c.Token) != TokenLen || c.StepIndex != 1 ||
		c.StepID != "approval" || !c.ExpiresAt.Equal(until) || st.WaitingUntil == nil || !st.WaitingUntil.Equal(until) {
		t.Fatalf("waiting job = %+v callback %+v", st, c)
	}
	if code := b.callback(t, id, strings.Repeat("A", TokenLen), `{}`); code != http.StatusNotFound {
		t.Fatalf("wrong token = %d", code)
	}
	if code := b.callback(t, uuid.NewString(), c.Token, `{}`); code != http.StatusNotFound {
		t.Fatalf("another job's ID = %d", code)
	}
	if r := b.runOnce(t, b.svc); r.Dispatched != 0 {
		t.Fatalf("a waiting job was dispatched: %+v", r)
	}
	body := `{"approved":true,"note":"<ok> & \"fine\""}`
	if code := b.callback(t, id, c.Token, body); code != http.StatusAccepted {
		t.Fatalf("callback = %d", code)
	}
	if code := b.callback(t, id, c.Token, body); code != http.StatusNotFound {
		t.Fatalf("second use = %d", code)
	}
	// Dispatched at once, not at the next pass.
	if st := b.status(t, id); st.Status != internalapi.StatusRunning || st.Attempts != 2 || st.Callback != nil {
		t.Fatalf("after the callback: %+v", st)
	}
	rj := b.lastRunJob(t, 2)
	if rj.Attempt != 2 || rj.Callback == nil || rj.Callback.StepIndex != 1 || string(rj.Callback.Body) != body || rj.Callback.TimedOut {
		t.Fatalf("run-job of attempt 2: %+v callback %+v", rj, rj.Callback)
	}

	// Attempt 2 parks at step 3: a new wait, a new token; the first
	// body is no longer carried.
	b.consume(t, b.svc, awaitResult(t, id, 2, 3, "", until))
	st = b.status(t, id)
	if st.Callback == nil || st.Callback.Token == c.Token || st.Callback.StepIndex != 3 || st.Callback.StepID != "" {
		t.Fatalf("second wait = %+v", st.Callback)
	}
	if code := b.callback(t, id, c.Token, body); code != http.StatusNotFound {
		t.Fatalf("the first wait's token on the second = %d", code)
	}
	if code := b.callback(t, id, st.Callback.Token, `[1,2]`); code != http.StatusAccepted {
		t.Fatalf("second callback = %d", code)
	}
	if rj := b.lastRunJob(t, 3); rj.Callback == nil || rj.Callback.StepIndex != 3 || string(rj.Callback.Body) != `[1,2]` {
		t.Fatalf("run-job of attempt 3: %+v", rj.Callback)
	}
	// Uncharged: the job with no retries is still running.
	if j := b.job(t, id); j.Status != internalapi.StatusRunning || j.Attempts != 3 {
		t.Fatalf("job = %+v", j)
	}
}

// A wait whose time passed refuses its token; the wake pass dispatches
// the job with timedOut, once; a manual retry waits again.
func TestCallbackTimesOut(t *testing.T) {
	b := setup(t, nil)
	id, tok := b.waitingJob(t)
	b.exec(t, `UPDATE jobs SET next_run_at = now() - interval '1 second' WHERE id = $1`, id)
	b.exec(t, `UPDATE job_callbacks SET expires_at = now() - interval '1 second' WHERE job_id = $1`, id)
	if st := b.status(t, id); st.Callback != nil {
		t.Fatalf("an expired wait is shown: %+v", st.Callback)
	}
	if code := b.callback(t, id, tok, `{}`); code != http.StatusNotFound {
		t.Fatalf("callback after the timeout = %d", code)
	}
	if r := b.runOnce(t, b.svc); r.Woken != 1 || r.Dispatched != 1 {
		t.Fatalf("pass after the timeout: %+v", r)
	}
	if rj := b.lastRunJob(t, 2); rj.Callback == nil || !rj.Callback.TimedOut || rj.Callback.Body != nil || rj.Callback.StepIndex != 1 {
		t.Fatalf("run-job after the timeout: %+v", rj.Callback)
	}
	if code := b.callback(t, id, tok, `{}`); code != http.StatusNotFound {
		t.Fatalf("callback after the wake = %d", code)
	}
	if n := b.count(t, `SELECT count(*) FROM job_callbacks WHERE job_id = $1 AND token IS NULL AND timed_out`, id); n != 1 {
		t.Fatalf("%d timed-out waits", n)
	}
	// The worker fails the step permanently: the job fails; a manual
	// retry forgets the timed-out wait.
	b.consume(t, b.svc, newResult(t, id, 2, "timed out", true))
	if j := b.job(t, id); j.Status != internalapi.StatusFailed {
		t.Fatalf("job = %+v", j)
	}
	b.read(t, envelope.TopicJobDeadLetter, 1)
	if err := dropTimedOutCallback(b.ctx, b.pool, id); err != nil {
		t.Fatal(err)
	}
	if n := b.count(t, `SELECT count(*) FROM job_callbacks WHERE job_id = $1`, id); n != 0 {
		t.Fatalf("%d waits left after the retry's drop", n)
	}
}

// Callbacks racing each other and the timeout: exactly one thing wakes
// the job, and its run-job says which.
func TestCallbackRaces(t *testing.T) {
	b := setup(t, nil)
	id, tok := b.waitingJob(t)
	// The timeout and the callbacks meet: the wait ends in 100 ms. The
	// wake time and the expiry are one value, as a park sets them (two
	// now()s would leave a gap in which the job wakes unexpired).
	until := time.Now().Add(100 * time.Millisecond)
	b.exec(t, `UPDATE jobs SET next_run_at = $2 WHERE id = $1`, id, until)
	b.exec(t, `UPDATE job_callbacks SET expires_at = $2 WHERE job_id = $1`, id, until)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted int
		stop     = make(chan struct{})
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(90 * time.Millisecond) // near the timeout
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := json.Marshal(internalapi.CallbackRequest{Token: tok, Body: json.RawMessage(`{"n":1}`)})
				rec := b.serve(t, http.MethodPost, internalapi.JobCallbackPath(id), string(req))
				mu.Lock()
				if rec.Code == http.StatusAccepted {
					accepted++
				} else if rec.Code != http.StatusNotFound {
					t.Errorf("callback = %d %s", rec.Code, rec.Body)
				}
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for b.job(t, id).Status == internalapi.StatusWaiting && time.Now().Before(deadline) {
		if _, err := b.svc.RunOnce(b.ctx); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	b.runOnce(t, b.svc) // dispatch the timeout, if it won
	rj := b.lastRunJob(t, 2)
	switch {
	case accepted == 1 && rj.Callback != nil && string(rj.Callback.Body) == `{"n":1}` && !rj.Callback.TimedOut:
	case accepted == 0 && rj.Callback != nil && rj.Callback.TimedOut:
	default:
		t.Fatalf("%d callbacks taken; run-job callback %+v", accepted, rj.Callback)
	}
	t.Logf("%d callbacks taken", accepted)
}

// A WAITING job cancelled: its token is refused and no longer shown.
func TestCallbackAfterCancel(t *testing.T) {
	b := setup(t, nil)
	id, tok := b.waitingJob(t)
	if rec := b.serve(t, http.MethodPost, internalapi.JobCancelPath(id), ""); rec.Code != http.StatusOK {
		t.Fatalf("cancel = %d %s", rec.Code, rec.Body)
	}
	if st := b.status(t, id); st.Status != internalapi.StatusCancelled || st.Callback != nil {
		t.Fatalf("cancelled = %+v", st)
	}
	if code := b.callback(t, id, tok, `{}`); code != http.StatusNotFound {
		t.Fatalf("callback after cancel = %d", code)
	}
	if r := b.runOnce(t, b.svc); r.Dispatched != 0 {
		t.Fatalf("a cancelled job was dispatched: %+v", r)
	}
}
