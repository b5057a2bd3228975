package scheduler

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/strictjson"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// WAIT_FOR_CALLBACK, the scheduler's side (see doc.go, "Callbacks").
//
// An attempt that parks with awaitCallback makes its job WAITING until
// the step's timeout (as any park) and gets a row in job_callbacks with a
// fresh one-use token. A callback that names the token while the job
// waits and the wait has not timed out clears the token, keeps the body
// and makes the job PENDING, due now; the wake pass makes a job whose wait
// timed out PENDING instead. Both take the job's row lock and require
// WAITING, so exactly one of them wins. Each dispatch of the job then
// carries the result in its run-job: the body, or timedOut for a wait
// whose token was never used once its time has passed.

// CodeCallbackNotFound answers every callback that is not taken: a wrong,
// used or expired token, or a job that does not wait for one.
const CodeCallbackNotFound = "SCHEDULER.CALLBACK_NOT_FOUND"

// TokenBytes is a callback token's randomness: 192 bits, 32 characters
// of URL-safe base64.
const TokenBytes = 24

// TokenLen is a callback token's length in characters.
var TokenLen = base64.RawURLEncoding.EncodedLen(TokenBytes)

// newCallbackToken makes a token from crypto/rand.
func newCallbackToken() (string, error) {
	b := make([]byte, TokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("scheduler: make a callback token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func callbackNotFound(id string) *apierror.Error {
	return apierror.New(http.StatusNotFound, CodeCallbackNotFound,
		"no callback of job "+id+" with this token is open: the token is wrong, used or expired, or the job does not wait for it").WithJob(id)
}

// maxCallbackRequest bounds the internal callback request: the body at
// its largest, its token and keys.
const maxCallbackRequest = envelope.MaxCallbackBytes + 1024

func (s *Service) serveCallback(w http.ResponseWriter, r *http.Request) {
	id, body, ok := s.jobRequest(w, r, maxCallbackRequest)
	if !ok {
		return
	}
	req, err := decodeCallback(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	acc, err := s.acceptCallback(ctx, id, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The job is due now: dispatched at once, as ingestion does, not at
	// the next tick. A failure only leaves it to the next pass.
	if _, _, _, err := s.dispatch(ctx); err != nil {
		s.log.WarnContext(ctx, "dispatch after a callback failed; the next pass dispatches the job", "error", err.Error())
	} else if _, err := s.relay.Drain(ctx); err != nil {
		s.log.WarnContext(ctx, "relay after a callback failed; the next pass publishes the run-job", "error", err.Error())
	}
	httpjson.Write(w, http.StatusAccepted, acc)
}

// decodeCallback reads a CallbackRequest: a token and a JSON body of at
// most envelope.MaxCallbackBytes, which is kept compact.
func decodeCallback(body []byte) (internalapi.CallbackRequest, error) {
	const want = "body must be one JSON object {token, body}"
	var req internalapi.CallbackRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, invalid("%s: %v", want, err)
	}
	if err := strictjson.CheckEnd(body, dec.InputOffset()); err != nil {
		return req, invalid("%s: %v", want, err)
	}
	if req.Token == "" || len(req.Body) == 0 {
		return req, invalid("%s: token and body are required", want)
	}
	if err := strictjson.CheckText(req.Body); err != nil {
		return req, invalid("body holds %v", err)
	}
	if err := strictjson.CheckSurrogates(req.Body); err != nil {
		return req, invalid("body holds %v", err)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, req.Body); err != nil {
		return req, invalid("body: %v", err)
	}
	if c.Len() > envelope.MaxCallbackBytes {
		return req, invalid("body takes %d bytes compact; at most %d", c.Len(), envelope.MaxCallbackBytes)
	}
	req.Body = c.Bytes()
	return req, nil
}

// acceptCallback takes a callback for job id if the job is WAITING for
// one with req.Token that has not timed out: the token is cleared (one
// use), the body kept, and the job made PENDING, due now. Anything else
// is CodeCallbackNotFound.
func (s *Service) acceptCallback(ctx context.Context, id string, req internalapi.CallbackRequest) (internalapi.CallbackAccepted, error) {
	acc := internalapi.CallbackAccepted{JobID: id, Status: internalapi.StatusPending}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The job's row lock guards its job_callbacks row: every writer
		// of that row holds it (outcomes, dispatch, manual retry).
		var (
			status, traceID string
			version         int
		)
		err := tx.QueryRow(ctx, `SELECT status, version, trace_id FROM jobs WHERE id = $1::uuid FOR UPDATE`, id).
			Scan(&status, &version, &traceID)
		if errors.Is(err, pgx.ErrNoRows) {
			return callbackNotFound(id)
		}
		if err != nil {
			return fmt.Errorf("scheduler: lock job %s: %w", id, err)
		}
		var (
			token *string
			open  bool
			k     int
		)
		err = tx.QueryRow(ctx, `SELECT token, expires_at > now(), step_index FROM job_callbacks WHERE job_id = $1::uuid`, id).
			Scan(&token, &open, &k)
		if errors.Is(err, pgx.ErrNoRows) {
			return callbackNotFound(id)
		}
		if err != nil {
			return fmt.Errorf("scheduler: read the callback of job %s: %w", id, err)
		}
		if !callbackMatches(status, token, open, req.Token) {
			return callbackNotFound(id)
		}
		if _, err := tx.Exec(ctx, `
			UPDATE job_callbacks SET token = NULL, result = $2, answered_at = now() WHERE job_id = $1::uuid`,
			id, string(req.Body)); err != nil {
			return fmt.Errorf("scheduler: keep the callback of job %s: %w", id, err)
		}
		tag, err := tx.Exec(ctx, `
			UPDATE jobs SET status = 'PENDING', next_run_at = now(), updated_at = now(), version = version + 1
			 WHERE id = $1::uuid AND version = $2`, id, version)
		if err != nil {
			return fmt.Errorf("scheduler: wake job %s: %w", id, err)
		}
		if tag.RowsAffected() != 1 {
			return errVersionConflict
		}
		s.log.InfoContext(trace.With(ctx, traceID, id), "callback taken; job due now", "step", k, "bytes", len(req.Body))
		return nil
	})
	if err != nil {
		return acc, err
	}
	s.metrics.Count("CallbacksTaken", 1)
	return acc, nil
}

// callbackMatches decides whether a callback with token got is taken: the
// job is WAITING, its wait's token is open (stored, not used) and not
// timed out, and got is that token (compared in constant time).
func callbackMatches(status string, stored *string, open bool, got string) bool {
	if status != internalapi.StatusWaiting || stored == nil || !open {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(*stored), []byte(got)) == 1
}

// writeCallbacks gives each job of the batch that parked for a callback
// its wait: a new token, the step, the timeout; a wait before it (an
// earlier WAIT_FOR_CALLBACK step's) is replaced.
func (b *outcomeBatch) writeCallbacks(ctx context.Context, tx pgx.Tx) error {
	var (
		ids, tokens, stepIDs []string
		idx                  []int32
		until                []time.Time
	)
	for _, id := range b.order {
		p := b.jobs[id]
		if p.callback == nil || p.update.Status != internalapi.StatusWaiting || p.update.RunAt == nil {
			continue
		}
		tok, err := newCallbackToken()
		if err != nil {
			return err
		}
		ids, tokens, stepIDs = append(ids, id), append(tokens, tok), append(stepIDs, clean(p.callback.StepID))
		idx, until = append(idx, int32(p.callback.StepIndex)), append(until, *p.update.RunAt)
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO job_callbacks (job_id, step_index, step_id, token, expires_at)
		SELECT u.id::uuid, u.k, NULLIF(u.sid, ''), u.tok, u.until
		  FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::timestamptz[]) AS u(id, k, sid, tok, until)
		    ON CONFLICT (job_id) DO UPDATE
		   SET step_index = EXCLUDED.step_index, step_id = EXCLUDED.step_id, token = EXCLUDED.token,
		       expires_at = EXCLUDED.expires_at, result = NULL, timed_out = false,
		       created_at = now(), answered_at = NULL`,
		ids, idx, stepIDs, tokens, until)
	if err != nil {
		return fmt.Errorf("scheduler: open the callbacks of %d jobs: %w", len(ids), err)
	}
	b.m.Count("CallbacksOpened", len(ids))
	return nil
}

// callbackStep marks the payloads that may hold a WAIT_FOR_CALLBACK step
// (as stored: jsonb writes the action's value in quotes).
var callbackStep = []byte(`"WAIT_FOR_CALLBACK"`)

// attachCallbacks puts into each dispatch whose job has a wait's result
// (its body, or a timeout) that result, for its run-job. A wait still
// open whose time has passed (the wake pass made the job PENDING) times
// out here, once: its token is cleared. Only jobs whose payload names
// WAIT_FOR_CALLBACK, past their first attempt, are looked up. The
// dispatches' jobs are locked by the caller.
func attachCallbacks(ctx context.Context, q querier, ds []*dispatch) error {
	var ids []string
	byID := map[string]*dispatch{}
	for _, d := range ds {
		if d.Attempts > 1 && bytes.Contains(d.Payload, callbackStep) {
			ids = append(ids, d.ID)
			byID[d.ID] = d
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := q.Query(ctx, `
		WITH expired AS (
		    UPDATE job_callbacks SET token = NULL, timed_out = true, answered_at = now()
		     WHERE job_id = ANY($1::text[]::uuid[]) AND token IS NOT NULL AND expires_at <= now()
		 RETURNING job_id, step_index
		)
		SELECT job_id::text, step_index, result, timed_out FROM job_callbacks
		 WHERE job_id = ANY($1::text[]::uuid[]) AND (result IS NOT NULL OR timed_out)
		   AND job_id NOT IN (SELECT job_id FROM expired)
		UNION ALL
		SELECT job_id::text, step_index, NULL, true FROM expired`, ids)
	if err != nil {
		return fmt.Errorf("scheduler: read the callbacks of %d jobs: %w", len(ids), err)
	}
	var (
		id     string
		k      int
		result *string
		late   bool
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &k, &result, &late}, func() error {
		c := &envelope.CallbackResult{StepIndex: k, TimedOut: late && result == nil}
		if result != nil {
			c.Body = json.RawMessage(*result)
		}
		if d := byID[id]; d != nil {
			d.Callback = c
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scheduler: read the callbacks of %d jobs: %w", len(ids), err)
	}
	return nil
}

// attachClaimedCallbacks is attachCallbacks for a dispatch pass's claims.
func attachClaimedCallbacks(ctx context.Context, q querier, claimed []claimedJob) error {
	ds := make([]*dispatch, len(claimed))
	for i := range claimed {
		ds[i] = &claimed[i].dispatch
	}
	return attachCallbacks(ctx, q, ds)
}

// openCallback adds to a WAITING job's status its open wait, if it has
// one.
func openCallback(ctx context.Context, q querier, st *internalapi.JobStatus) error {
	if st.Status != internalapi.StatusWaiting {
		return nil
	}
	var c internalapi.CallbackWait
	err := q.QueryRow(ctx, `
		SELECT token, step_index, coalesce(step_id, ''), expires_at FROM job_callbacks
		 WHERE job_id = $1::uuid AND token IS NOT NULL AND expires_at > now()`, st.JobID).
		Scan(&c.Token, &c.StepIndex, &c.StepID, &c.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("scheduler: read the callback of job %s: %w", st.JobID, err)
	}
	c.ExpiresAt = c.ExpiresAt.UTC()
	st.Callback = &c
	return nil
}

// dropTimedOutCallback forgets a job's wait that timed out (or was never
// answered), so that a manual retry waits again with a new token; a
// callback's body stays.
func dropTimedOutCallback(ctx context.Context, q querier, id string) error {
	if _, err := q.Exec(ctx, `DELETE FROM job_callbacks WHERE job_id = $1::uuid AND result IS NULL`, id); err != nil {
		return fmt.Errorf("scheduler: drop the timed-out callback of job %s: %w", id, err)
	}
	return nil
}
