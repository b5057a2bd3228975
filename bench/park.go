package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// parkJob is the park scenario's job: one DATA_PIPELINE SLEEP longer than
// WORKER_PARK_THRESHOLD, so that it parks (WAITING) and holds no worker.
const parkJob = `{"jobType":"DATA_PIPELINE","payload":{"steps":[{"action":"SLEEP","durationMs":%d}]},"maxRetryCount":0}`

// park is issue #13's floor: o.parkJobs jobs of one o.parkSleep SLEEP all
// complete within o.parkWithin of their submission, on the stack as make
// run starts it. It reports the most jobs parked at once and the largest
// submit→completed.
func (b *bench) park(ctx context.Context) ([]row, error) {
	job := []byte(fmt.Sprintf(parkJob, b.o.parkSleep.Milliseconds()))
	per := max(1, min(b.o.batch, 1000))
	fmt.Fprintf(os.Stderr, "bench: park: %d DATA_PIPELINE jobs of one %s SLEEP, %d per POST /api/jobs/batch…\n", b.o.parkJobs, b.o.parkSleep, per)
	sent := map[string]time.Time{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, (b.o.parkJobs+per-1)/per)
	for left := b.o.parkJobs; left > 0; left -= per {
		n := min(per, left)
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			ids, err := b.submitBatchIDs(ctx, job, n)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			for _, id := range ids {
				sent[id] = t
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	submitted := time.Now()
	// Watch how many are parked at once while they sleep, until every
	// job is terminal in the scheduler (the stack is fresh: its jobs are
	// ours; a job not yet ingested is not there at all).
	mostParked := 0
	for time.Since(submitted) < b.o.parkSleep+b.o.parkWithin+5*time.Minute {
		var parked, terminal int
		if err := b.scheduler.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'WAITING'), count(*) FILTER (WHERE status IN ('COMPLETED','FAILED','CANCELLED')) FROM jobs`).Scan(&parked, &terminal); err != nil {
			return nil, err
		}
		mostParked = max(mostParked, parked)
		if terminal >= len(sent) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	done, err := b.times(ctx, b.scheduler, `SELECT id::text, finished_at FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'COMPLETED'`, keys(sent))
	if err != nil {
		return nil, err
	}
	lat := diffs(sent, done)
	worst := time.Duration(0)
	if len(lat) > 0 {
		worst = lat[len(lat)-1]
	}
	ok := len(done) == len(sent) && worst <= b.o.parkWithin
	return []row{
		{"park", fmt.Sprintf("%d jobs of one %s SLEEP: completed", len(sent), b.o.parkSleep), fmt.Sprintf("%d of %d", len(done), len(sent)), "all", verdict(len(done) == len(sent)), ""},
		{"park", "most parked (WAITING) at once", fmt.Sprintf("%d", mostParked), "", "", ""},
		{"park", "submit→completed p50", ms(pct(lat, 50)), "", "", ""},
		{"park", "submit→completed max", ms(worst), "≤ " + ms(b.o.parkWithin), verdict(ok), ""},
	}, nil
}

// submitBatchIDs posts n copies of job in one POST /api/jobs/batch and
// returns the IDs answered.
func (b *bench) submitBatchIDs(ctx context.Context, job []byte, n int) ([]string, error) {
	body := []byte(`{"jobs":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, job...)
	}
	body = append(body, "]}"...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.st.APIURL+"/api/jobs/batch", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return nil, fmt.Errorf("POST /api/jobs/batch answered %d: %s", resp.StatusCode, out)
	}
	var acc struct {
		Jobs []struct {
			JobID string `json:"jobId"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal(out, &acc); err != nil {
		return nil, err
	}
	ids := make([]string, len(acc.Jobs))
	for i, j := range acc.Jobs {
		ids[i] = j.JobID
	}
	if len(ids) != n {
		return nil, fmt.Errorf("POST /api/jobs/batch of %d jobs answered %d IDs", n, len(ids))
	}
	return ids, nil
}
