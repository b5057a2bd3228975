package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/paging"
	"github.com/jobweaver/jobweaver/shared/pgtext"
	"github.com/jobweaver/jobweaver/shared/step"
)

// BATCH_PROCESS (step.Batch) runs its item step once per item, in chunks
// of chunkSize items by index. Each chunk's item results are written to
// batch_items in one statement before the next chunk starts, and the
// items a deadline cut leaves finished in a chunk are written the same
// way before the attempt yields. A new attempt loads which items have a
// result and runs only the others: a finished item never runs again (an
// item running when its worker crashed runs again, from its start).
//
// Items fail on their own: a failed item is recorded and the others run
// on. When every item has a result, the step succeeds if at most
// maxFailedItems failed, else it fails with CodeBatchItemsFailed (retried
// under the job's backoff, or at once for good when every failure is
// permanent). A retry starts a new pass, which runs only the FAILED items
// again; SUCCEEDED ones stay. The step's output is batchOutput in every
// case (a yielded attempt's shows the progress so far); per-item results
// never ride a Kafka event and are read through GET
// /internal/items/{jobId}.
//
// Items of a chunk run concurrently when the worker has spare slots of
// the item step's class (step.Classify): the attempt's own slot, plus up
// to BatchConfig.Concurrency-1 more taken without waiting while they are
// free, given back when the chunk ends. So a batch never holds more than
// the worker's I/O (or CPU) bound, and never waits for a slot it does
// not need.

// CodeBatchItemsFailed fails an attempt whose batch had more failed
// items than maxFailedItems.
const CodeBatchItemsFailed = "WORKER.BATCH_ITEMS_FAILED"

// MaxBatchOutputBytes caps the item outputs a job keeps in all; past it,
// items still run, their outputs omitted (outputOmitted). One item's is
// capped at step.MaxOutputBytes the same way.
const MaxBatchOutputBytes = 32 << 20

// BatchConfig tunes BATCH_PROCESS.
type BatchConfig struct {
	// Concurrency (WORKER_BATCH_CONCURRENCY, default 10): how many items
	// of a chunk may run at once, slots permitting.
	Concurrency int
}

// DefaultBatchConcurrency is BatchConfig.Concurrency's default: the
// HTTP client's idle connections per host (package ssrf), so that items
// calling one host reuse their connections. Past it, each call beyond
// the tenth opens and closes a connection: 5,000 calls to a local target
// took 2.9 s at 10, 5.3 s at 32 and 4.4 s at 1.
const DefaultBatchConcurrency = 10

func batchFromEnv(env *config.Env) BatchConfig {
	return BatchConfig{Concurrency: env.Int("WORKER_BATCH_CONCURRENCY", DefaultBatchConcurrency, 1, 1000)}
}

func (c BatchConfig) withDefaults() BatchConfig {
	if c.Concurrency == 0 {
		c.Concurrency = DefaultBatchConcurrency
	}
	return c
}

// batchOutput is the batch step's output.
type batchOutput struct {
	Total          int         `json:"total"`
	Succeeded      int         `json:"succeeded"`
	Failed         int         `json:"failed"`
	Pending        int         `json:"pending,omitempty"` // items without a result yet (a yielded attempt)
	MaxFailedItems int         `json:"maxFailedItems"`
	ChunkSize      int         `json:"chunkSize"`
	Chunks         int         `json:"chunks"`
	Pass           int         `json:"pass"`
	RanItems       int         `json:"ranItems"` // items this attempt ran
	FirstError     *firstError `json:"firstError,omitempty"`
}

// firstError is the failed item of the lowest index.
type firstError struct {
	Index     int    `json:"index"`
	ErrorCode string `json:"errorCode"`
	Error     string `json:"error"`
}

// itemState is what a new attempt needs to know of a finished item.
type itemState struct {
	failed    bool
	pass      int
	permanent bool
}

// itemResult is one item's result, to be written.
type itemResult struct {
	index     int
	failed    bool
	output    json.RawMessage
	omitted   bool
	code, err string
	permanent bool
}

// runStepOrBatch runs one step of an attempt: a batch item by item, any
// other step as it is. *progressed is set when a batch wrote results.
func (s *Service) runStepOrBatch(ctx context.Context, t *task, st step.Step, env step.Env, progressed *bool) (json.RawMessage, error) {
	b, ok := st.(*step.Batch)
	if !ok {
		return runStep(ctx, st, env, t.keep)
	}
	out, wrote, err := s.runBatchStep(ctx, t, b, env)
	if wrote {
		*progressed = true
	}
	return out, err
}

// runBatchStep runs the items of b that the job's earlier attempts did
// not finish (or, in a retry's new pass, the failed ones), chunk by
// chunk. It returns the batch's output, whether it wrote any result, and
// the step's error: ctx's when a deadline cut it, CodeBatchItemsFailed
// when too many items failed.
func (s *Service) runBatchStep(ctx context.Context, t *task, b *step.Batch, env step.Env) (json.RawMessage, bool, error) {
	states, used, err := s.loadItems(ctx, t.jobID)
	if err != nil {
		return nil, false, &step.CodedError{Code: CodeCheckpointsUnavailable, Err: err}
	}
	n := len(b.Items)
	pass := 1
	for _, st := range states {
		pass = max(pass, st.pass)
	}
	todo := workSet(states, n, pass)
	if len(todo) == 0 && failedCount(states) > b.MaxFailedItems {
		// The pass ended with too many failures: this is a retry, whose
		// new pass runs the failed items again.
		pass++
		todo = workSet(states, n, pass)
	}
	out := batchOutput{Total: n, MaxFailedItems: b.MaxFailedItems, ChunkSize: b.ChunkSize,
		Chunks: (n + b.ChunkSize - 1) / b.ChunkSize, Pass: pass}
	wrote := false
	var cut error
	for len(todo) > 0 {
		if ctx.Err() != nil {
			cut = ctx.Err()
			break
		}
		// The next chunk: the items to do in the first unfinished one.
		c := todo[0] / b.ChunkSize
		k := 1
		for k < len(todo) && todo[k]/b.ChunkSize == c {
			k++
		}
		chunk := todo[:k]
		results := s.runChunk(ctx, b, chunk, env, &used)
		if len(results) > 0 {
			if err := s.saveItems(ctx, t, pass, results); err != nil {
				// The items ran; unrecorded, a later attempt runs them again.
				s.log.WarnContext(ctx, "batch chunk finished but not checkpointed; a later attempt runs its items again",
					"chunk", c, "items", len(results), "error", err.Error())
				return s.batchResult(ctx, t.jobID, b, states, out), wrote, &step.CodedError{Code: CodeCheckpointsUnavailable, Err: err}
			}
			wrote = true
			out.RanItems += len(results)
			for _, r := range results {
				states[r.index] = itemState{failed: r.failed, pass: pass, permanent: r.permanent}
			}
		}
		if len(results) < len(chunk) {
			cut = ctx.Err()
			if cut == nil {
				cut = context.Canceled
			}
			break
		}
		todo = todo[k:]
	}
	o := s.batchResult(ctx, t.jobID, b, states, out)
	if cut != nil {
		return o, wrote, fmt.Errorf("%w: the batch was cut after %d of %d items (%d left): %w",
			step.ErrStepFailed, len(states), n, n-len(states), cut)
	}
	failed := failedCount(states)
	if failed <= b.MaxFailedItems {
		return o, wrote, nil
	}
	permanent := true
	for _, st := range states {
		if st.failed && !st.permanent {
			permanent = false
			break
		}
	}
	return o, wrote, &step.CodedError{Code: CodeBatchItemsFailed, Permanent: permanent, Err: fmt.Errorf(
		"%w: %d of %d items failed, more than maxFailedItems (%d); GET /api/jobs/{id}/items?status=FAILED lists them",
		step.ErrStepFailed, failed, n, b.MaxFailedItems)}
}

// workSet lists, in order, the items pass must run: those without a
// result and those that failed in an earlier pass.
func workSet(states map[int]itemState, n, pass int) []int {
	var out []int
	for i := range n {
		st, ok := states[i]
		if !ok || st.failed && st.pass < pass {
			out = append(out, i)
		}
	}
	return out
}

func failedCount(states map[int]itemState) int {
	n := 0
	for _, st := range states {
		if st.failed {
			n++
		}
	}
	return n
}

// batchResult fills in the counts and the first error of out.
func (s *Service) batchResult(ctx context.Context, jobID string, b *step.Batch, states map[int]itemState, out batchOutput) json.RawMessage {
	for _, st := range states {
		if st.failed {
			out.Failed++
		} else {
			out.Succeeded++
		}
	}
	out.Pending = len(b.Items) - len(states)
	if out.Failed > 0 {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkpointTimeout)
		defer cancel()
		var fe firstError
		err := s.pool.QueryRow(ctx, `
			SELECT item_index, coalesce(error_code, ''), coalesce(error, '') FROM batch_items
			 WHERE job_id = $1::uuid AND status = 'FAILED' ORDER BY item_index LIMIT 1`, jobID).Scan(&fe.Index, &fe.ErrorCode, &fe.Error)
		if err == nil {
			fe.Error = pgtext.Clean(fe.Error, 1024)
			out.FirstError = &fe
		}
	}
	o, _ := json.Marshal(out)
	return o
}

// runChunk runs the items of a chunk, several at once when spare slots
// of their class are free, and returns the results of those that
// finished (an item cut by ctx has none), by index. *used counts the
// job's kept output bytes.
func (s *Service) runChunk(ctx context.Context, b *step.Batch, chunk []int, env step.Env, used *int64) []itemResult {
	class := step.Classify(b.ItemStep())
	extra := 0
	for extra < min(len(chunk), s.cfg.Batch.Concurrency)-1 && s.slots.tryAcquire(class) {
		extra++
	}
	defer func() {
		for range extra {
			s.slots.release(class)
		}
	}()
	var (
		mu      sync.Mutex
		results = make([]itemResult, 0, len(chunk))
		next    = make(chan int)
		wg      sync.WaitGroup
	)
	for range extra + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r, ok := s.runItem(ctx, b, i, env)
				if !ok {
					continue
				}
				mu.Lock()
				if r.output != nil {
					if *used+int64(len(r.output)) > MaxBatchOutputBytes {
						r.output, r.omitted = nil, true
					} else {
						*used += int64(len(r.output))
					}
				}
				results = append(results, r)
				mu.Unlock()
			}
		}()
	}
	for _, i := range chunk {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	sort.Slice(results, func(a, c int) bool { return results[a].index < results[c].index })
	return results
}

// runItem runs item i; ok is false when ctx cut it (no result).
func (s *Service) runItem(ctx context.Context, b *step.Batch, i int, env step.Env) (itemResult, bool) {
	r := itemResult{index: i}
	if ctx.Err() != nil {
		return r, false
	}
	st, err := b.Item(i)
	var out json.RawMessage
	if err == nil {
		out, err = runStep(ctx, st, env, true)
	}
	if err != nil && ctx.Err() != nil {
		return r, false
	}
	if out != nil {
		switch {
		case len(out) > step.MaxOutputBytes || !json.Valid(out):
			r.omitted = true
		default:
			r.output = out
		}
	}
	if err != nil {
		r.failed = true
		r.code = CodeStepFailed
		var ce *step.CodedError
		if errors.As(err, &ce) {
			r.code, r.permanent = ce.Code, ce.Permanent
		}
		r.err = pgtext.Clean(err.Error(), maxErrorBytes)
	}
	return r, true
}

// loadItems returns the job's finished items and the bytes of output they
// keep.
func (s *Service) loadItems(ctx context.Context, jobID string) (map[int]itemState, int64, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkpointTimeout)
	defer cancel()
	var (
		out  map[int]itemState
		used int64
	)
	err := retryDB(ctx, func() error {
		out, used = map[int]itemState{}, 0
		rows, err := s.pool.Query(ctx, `
			SELECT item_index, status = 'FAILED', pass, permanent, bytes FROM batch_items WHERE job_id = $1::uuid`, jobID)
		if err != nil {
			return err
		}
		var (
			i, pass, n int
			failed, pm bool
		)
		_, err = pgx.ForEachRow(rows, []any{&i, &failed, &pass, &pm, &n}, func() error {
			out[i] = itemState{failed: failed, pass: pass, permanent: pm}
			used += int64(n)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("worker: load the batch items of job %s: %w", jobID, err)
	}
	return out, used, nil
}

const upsertItems = `
INSERT INTO batch_items (job_id, item_index, pass, attempt, status, output, bytes, output_omitted,
                         error_code, error, permanent, finished_at)
SELECT $1::uuid, i, $2, $3, CASE WHEN f THEN 'FAILED' ELSE 'SUCCEEDED' END, o::jsonb,
       coalesce(length(o), 0), om, NULLIF(ec, ''), NULLIF(er, ''), pm, now()
FROM unnest($4::int[], $5::boolean[], $6::text[], $7::boolean[], $8::text[], $9::text[], $10::boolean[])
     AS r(i, f, o, om, ec, er, pm)
ON CONFLICT (job_id, item_index) DO UPDATE
   SET pass = excluded.pass, attempt = excluded.attempt, status = excluded.status, output = excluded.output,
       bytes = excluded.bytes, output_omitted = excluded.output_omitted, error_code = excluded.error_code,
       error = excluded.error, permanent = excluded.permanent, finished_at = excluded.finished_at
 WHERE batch_items.status = 'FAILED'`

// saveItems writes a chunk's results in one statement. A SUCCEEDED item
// already there (a racing delivery) stays.
func (s *Service) saveItems(ctx context.Context, t *task, pass int, rs []itemResult) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkpointTimeout)
	defer cancel()
	n := len(rs)
	var (
		idx     = make([]int32, n)
		failed  = make([]bool, n)
		outs    = make([]*string, n)
		omitted = make([]bool, n)
		codes   = make([]string, n)
		errs    = make([]string, n)
		perm    = make([]bool, n)
	)
	for k, r := range rs {
		idx[k], failed[k], omitted[k], codes[k], errs[k], perm[k] = int32(r.index), r.failed, r.omitted, r.code, r.err, r.permanent
		if r.output != nil {
			o := string(r.output)
			outs[k] = &o
		}
	}
	err := retryDB(ctx, func() error {
		_, err := s.pool.Exec(ctx, upsertItems, t.jobID, pass, t.job.Attempt, idx, failed, outs, omitted, codes, errs, perm)
		return err
	})
	if err != nil {
		return fmt.Errorf("worker: checkpoint %d batch items of job %s: %w", n, t.jobID, err)
	}
	return nil
}

// listItems is GET /internal/items/{jobId}?limit=&cursor=&status=.
func (s *Service) listItems(w http.ResponseWriter, r *http.Request) {
	bad := func(code, format string, args ...any) {
		apierror.Write(w, r, s.log, namespace, apierror.New(http.StatusBadRequest, code, fmt.Sprintf(format, args...)))
	}
	raw := r.PathValue("jobId")
	id, err := uuid.Parse(raw)
	if err != nil {
		bad("WORKER.INVALID_REQUEST", "jobId must be a UUID (got %q)", raw)
		return
	}
	q := r.URL.Query()
	limit := min(internalapi.DefaultPageSize, s.cfg.PageSizeMax)
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			bad("WORKER.INVALID_REQUEST", "limit must be an integer from 1 to %d (got %q)", s.cfg.PageSizeMax, v)
			return
		}
		limit = min(n, s.cfg.PageSizeMax)
	}
	after := -1
	if v := q.Get("cursor"); v != "" {
		if after, err = internalapi.ParseItemCursor(v); err != nil {
			bad("WORKER.INVALID_CURSOR", "cursor %v; pass a nextCursor unchanged", err)
			return
		}
	}
	status := q.Get("status")
	if status != "" && status != internalapi.ItemSucceeded && status != internalapi.ItemFailed {
		bad("WORKER.INVALID_REQUEST", "status must be SUCCEEDED or FAILED (got %q)", status)
		return
	}
	page, err := s.Items(r.Context(), id.String(), after, limit, status)
	if err != nil {
		apierror.Write(w, r, s.log, namespace, err)
		return
	}
	httpjson.Write(w, http.StatusOK, page)
}

// Items returns up to limit of a job's finished items after index after
// (-1: from the first), by index, only those of status if it is set. The
// page's outputs take at most MaxPageOutputBytes; an output past that is
// left out and marked omitted. NextCursor is set while more items follow.
func (s *Service) Items(ctx context.Context, jobID string, after, limit int, status string) (paging.Page[internalapi.Item], error) {
	var total int64
	if err := s.pool.QueryRow(ctx, `
		SELECT count(*) FROM batch_items WHERE job_id = $1::uuid AND ($2 = '' OR status = $2)`, jobID, status).Scan(&total); err != nil {
		return paging.Page[internalapi.Item]{}, fmt.Errorf("worker: count batch items: %w", err)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT item_index, status, attempt, output_omitted, coalesce(error_code, ''), coalesce(error, ''),
		       CASE WHEN sum(bytes) OVER (ORDER BY item_index) <= $5 OR row_number() OVER (ORDER BY item_index) = 1
		            THEN output::text END, output IS NOT NULL
		  FROM batch_items
		 WHERE job_id = $1::uuid AND item_index > $2 AND ($3 = '' OR status = $3)
		 ORDER BY item_index LIMIT $4`, jobID, after, status, limit+1, MaxPageOutputBytes)
	if err != nil {
		return paging.Page[internalapi.Item]{}, fmt.Errorf("worker: list batch items: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (internalapi.Item, error) {
		var (
			it  internalapi.Item
			out *string
			has bool
		)
		err := row.Scan(&it.Index, &it.Status, &it.Attempt, &it.OutputOmitted, &it.ErrorCode, &it.Error, &out, &has)
		switch {
		case out != nil:
			it.Output = json.RawMessage(*out)
		case has:
			it.OutputOmitted = true
		}
		return it, err
	})
	if err != nil {
		return paging.Page[internalapi.Item]{}, fmt.Errorf("worker: list batch items: %w", err)
	}
	p := paging.New(list, 0, limit, total)
	if len(list) > limit {
		p.Content = list[:limit]
		p.NextCursor = internalapi.ItemCursor(list[limit-1].Index)
	}
	return p, nil
}
