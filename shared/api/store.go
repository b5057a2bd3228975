package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/jobspec"
	"github.com/jobweaver/jobweaver/shared/outbox"
)

// submission is a job as the api accepted it (a jobs row).
type submission struct {
	ID            string
	JobType       string
	Payload       json.RawMessage
	MaxRetryCount int
	TraceID       string
	CreatedAt     time.Time
	RequestHash   []byte
	CreatedBy     string // the submitting caller (auth.Caller.ID)
}

// jobCreated is the event payload the submission was pendingEvent with.
func (s submission) jobCreated() envelope.JobCreated {
	return envelope.JobCreated{
		JobSpec: envelope.JobSpec{
			JobType:       s.JobType,
			Payload:       s.Payload,
			MaxRetryCount: s.MaxRetryCount,
		},
		CreatedAt: s.CreatedAt,
		CreatedBy: s.CreatedBy,
	}
}

const selectSubmission = `SELECT id::text, job_type, payload, max_retry_count, trace_id, created_at, request_hash, created_by FROM jobs`

func scanSubmission(row pgx.Row) (submission, error) {
	var s submission
	err := row.Scan(&s.ID, &s.JobType, &s.Payload, &s.MaxRetryCount, &s.TraceID, &s.CreatedAt, &s.RequestHash, &s.CreatedBy)
	return s, err
}

// errJobNotFound is returned by jobByID for an unknown job.
var errJobNotFound = errors.New("job not found")

// jobByID reads a submission; an unknown ID is errJobNotFound.
func jobByID(ctx context.Context, pool *pgxpool.Pool, id string) (submission, error) {
	s, err := scanSubmission(pool.QueryRow(ctx, selectSubmission+` WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return s, errJobNotFound
	}
	if err != nil {
		return s, fmt.Errorf("api: read job %s: %w", id, err)
	}
	return s, nil
}

// requestHash is the SHA-256 of a submission's canonical form: its job
// type, its effective retry budget and its steps with sorted keys and no
// insignificant whitespace. Two bodies that differ only in layout, key
// order or an explicit default maxRetryCount are the same request.
func requestHash(job jobspec.Job) []byte {
	steps := make([]any, len(job.Steps))
	for i, raw := range job.Steps {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&steps[i]); err != nil {
			steps[i] = string(raw) // cannot happen for a decoded job
		}
	}
	b, _ := json.Marshal(struct {
		JobType       string `json:"jobType"`
		MaxRetryCount int    `json:"maxRetryCount"`
		Steps         []any  `json:"steps"`
	}{job.JobType, job.MaxRetryCount, steps})
	sum := sha256.Sum256(b)
	return sum[:]
}

// createJob stores a valid submission of caller, its JobCreated event
// and its job.submit audit row in one statement, and returns the event to
// publish. With an idempotency key (scoped to the caller: another
// caller's same key is another job), a submission the caller already
// stored under that key is returned instead (with no event and no second
// audit row) when its request hash matches, and a different one is
// API.IDEMPOTENCY_KEY_REUSED.
func createJob(ctx context.Context, pool *pgxpool.Pool, job jobspec.Job, key, traceID, caller string) (submission, *pendingEvent, error) {
	hash := requestHash(job)
	var keyArg *string
	if key != "" {
		keyArg = &key
	}
	// A concurrent request with the same key either commits first (this
	// insert then does nothing and the row is read back) or rolls back
	// (this insert then proceeds). A second round covers the rare read
	// that finds nothing.
	for round := 0; round < 3; round++ {
		sub, created, pub, err := insertJob(ctx, pool, job, keyArg, hash, traceID, caller)
		if err != nil || created {
			return sub, pub, err
		}
		if key == "" {
			return submission{}, nil, errors.New("api: insert without idempotency key stored nothing")
		}
		existing, err := scanSubmission(pool.QueryRow(ctx, selectSubmission+` WHERE created_by = $1 AND idempotency_key = $2`, caller, key))
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return submission{}, nil, fmt.Errorf("api: read job by idempotency key: %w", err)
		}
		if !bytes.Equal(existing.RequestHash, hash) {
			return submission{}, nil, apierror.New(http.StatusUnprocessableEntity, "API.IDEMPOTENCY_KEY_REUSED",
				"this Idempotency-Key was already used for a different job submission; use a new key for a new job").WithJob(existing.ID)
		}
		return existing, nil, nil
	}
	return submission{}, nil, errors.New("api: idempotency key conflicts but its job cannot be read")
}

// insertJob stores the job, its JobCreated outbox row and its job.submit
// audit row in one statement (one round trip, one commit). created is
// false, with no error, when the caller's idempotency key is already
// taken (and then neither row is written). On success it returns the
// event and its outbox row for the caller to publish.
func insertJob(ctx context.Context, pool *pgxpool.Pool, job jobspec.Job, key *string, hash []byte, traceID, caller string) (sub submission, created bool, pub *pendingEvent, err error) {
	id, err := uuid.NewV7() // time-ordered: friendlier to the primary key index
	if err != nil {
		id = uuid.New()
	}
	sub = submission{
		ID:            id.String(),
		JobType:       job.JobType,
		Payload:       job.PayloadJSON(),
		MaxRetryCount: job.MaxRetryCount,
		TraceID:       traceID,
		RequestHash:   hash,
		CreatedAt:     time.Now().UTC().Truncate(time.Microsecond),
		CreatedBy:     caller,
	}
	env, err := envelope.New(envelope.TypeJobCreated, traceID, sub.ID, sub.jobCreated())
	if err != nil {
		return sub, false, nil, err
	}
	row := outbox.Row(env)
	auditID, detail := newAuditID(), map[string]any{"jobType": sub.JobType}
	if key != nil {
		detail["idempotencyKey"] = *key
	}
	var outboxID int64
	err = pool.QueryRow(ctx, `
		WITH job AS (
			INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, idempotency_key, request_hash, created_at, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $13)
			ON CONFLICT (created_by, idempotency_key) DO NOTHING
			RETURNING id),
		aud AS (
			INSERT INTO audit (id, caller, action, target, detail)
			SELECT $14, $13, '`+ActionJobSubmit+`', job.id::text, $15 FROM job)
		INSERT INTO outbox (topic, key, value, headers)
		SELECT $9, $10, $11, $12 FROM job
		RETURNING id`,
		sub.ID, sub.JobType, sub.Payload, sub.MaxRetryCount, sub.TraceID, key, hash, sub.CreatedAt,
		row.Topic, row.Key, row.Value, row.Headers, caller, auditID, detail).Scan(&outboxID)
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return sub, false, nil, nil // the key is taken
	case errors.As(err, &pgErr) && pgErr.Code == "23505" && key != nil:
		return sub, false, nil, nil // a unique violation on the key all the same: reread
	case err != nil:
		return sub, false, nil, fmt.Errorf("api: insert job: %w", err)
	}
	return sub, true, &pendingEvent{ids: []int64{outboxID}, envs: []envelope.Envelope{env}}, nil
}

// pendingEvent are events committed to the outbox, ready to publish.
type pendingEvent struct {
	ids  []int64
	envs []envelope.Envelope
}

// queryer is a pool or a transaction.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// newSubmissions gives each job of caller an ID (time-ordered, UUIDv7),
// its request hash and its JobCreated event.
func newSubmissions(jobs []jobspec.Job, traceID, caller string) ([]submission, []envelope.Envelope, error) {
	subs := make([]submission, len(jobs))
	envs := make([]envelope.Envelope, len(jobs))
	now := time.Now().UTC().Truncate(time.Microsecond)
	for i, job := range jobs {
		id, err := uuid.NewV7()
		if err != nil {
			id = uuid.New()
		}
		subs[i] = submission{
			ID: id.String(), JobType: job.JobType, Payload: job.PayloadJSON(), MaxRetryCount: job.MaxRetryCount,
			TraceID: traceID, RequestHash: requestHash(job), CreatedAt: now, CreatedBy: caller,
		}
		if envs[i], err = envelope.New(envelope.TypeJobCreated, traceID, subs[i].ID, subs[i].jobCreated()); err != nil {
			return nil, nil, err
		}
	}
	return subs, envs, nil
}

// insertJobs stores submissions without idempotency keys (all of one
// caller), their JobCreated outbox rows and the batch's one job.batch
// audit row (target: the first job; detail: the count and key, if any)
// in one statement.
func insertJobs(ctx context.Context, q queryer, subs []submission, envs []envelope.Envelope, key string) (*pendingEvent, error) {
	n := len(subs)
	var (
		ids, types, tids, topics []string
		payloads, hashes         [][]byte
		keys, values, headers    [][]byte
		retries                  []int32
		created                  []time.Time
	)
	for i, sub := range subs {
		row := outbox.Row(envs[i])
		ids, types, tids = append(ids, sub.ID), append(types, sub.JobType), append(tids, sub.TraceID)
		payloads, hashes = append(payloads, sub.Payload), append(hashes, sub.RequestHash)
		retries, created = append(retries, int32(sub.MaxRetryCount)), append(created, sub.CreatedAt)
		topics, keys, values, headers = append(topics, row.Topic), append(keys, row.Key), append(values, row.Value), append(headers, row.Headers)
	}
	detail := map[string]any{"count": n}
	if key != "" {
		detail["idempotencyKey"] = key
	}
	rows, err := q.Query(ctx, `
		WITH job AS (
			INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, request_hash, created_at, created_by)
			SELECT *, $12 FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::int[], $5::text[], $6::bytea[], $7::timestamptz[])),
		aud AS (
			INSERT INTO audit (id, caller, action, target, detail)
			VALUES ($13, $12, '`+ActionJobBatch+`', ($1::uuid[])[1]::text, $14))
		INSERT INTO outbox (topic, key, value, headers)
		SELECT * FROM unnest($8::text[], $9::bytea[], $10::bytea[], $11::jsonb[])
		RETURNING id`,
		ids, types, payloads, retries, tids, hashes, created, topics, keys, values, headers,
		subs[0].CreatedBy, newAuditID(), detail)
	if err != nil {
		return nil, fmt.Errorf("api: insert %d jobs: %w", n, err)
	}
	outboxIDs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("api: insert %d jobs: %w", n, err)
	}
	return &pendingEvent{ids: outboxIDs, envs: envs}, nil
}

// batchHash is the SHA-256 over the request hashes of a batch's jobs, in
// order: the same jobs in the same order are the same batch.
func batchHash(subs []submission) []byte {
	h := sha256.New()
	for _, s := range subs {
		h.Write(s.RequestHash)
	}
	return h.Sum(nil)
}

// errBatchKeyReused answers a batch whose Idempotency-Key an earlier,
// different batch holds. It names no job: they may be another caller's.
var errBatchKeyReused = apierror.New(http.StatusUnprocessableEntity, "API.IDEMPOTENCY_KEY_REUSED",
	"this Idempotency-Key was already used for a different batch (other jobs, or the same jobs in another order); nothing was stored; use a new key for a new batch")

// createBatch stores a batch's jobs, their JobCreated outbox rows and
// one job.batch audit row, all or none, and returns the events to
// publish. With an idempotency key the batch row (table batches: a key
// namespace of its own, apart from the single submissions'
// jobs.idempotency_key, and scoped to the caller) commits in the same
// transaction: a batch the caller already stored under the key is
// returned instead (with no events and no second audit row) when its hash
// matches, and a different one is errBatchKeyReused, with nothing stored.
func createBatch(ctx context.Context, pool *pgxpool.Pool, jobs []jobspec.Job, key, traceID, caller string) ([]submission, *pendingEvent, error) {
	subs, envs, err := newSubmissions(jobs, traceID, caller)
	if err != nil {
		return nil, nil, err
	}
	if key == "" {
		pub, err := insertJobs(ctx, pool, subs, envs, "")
		return subs, pub, err
	}
	hash := batchHash(subs)
	ids := make([]string, len(subs))
	for i, sub := range subs {
		ids[i] = sub.ID
	}
	// A concurrent batch with the same key either commits first (this
	// insert waits for it, then does nothing, and its row is read back)
	// or rolls back (this insert then proceeds). Another round covers a
	// row deleted between the two statements.
	for round := 0; round < 3; round++ {
		var (
			pub      *pendingEvent
			existing []submission
		)
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `INSERT INTO batches (idempotency_key, request_hash, job_ids, trace_id, created_by)
				VALUES ($1, $2, $3::uuid[], $4, $5) ON CONFLICT (created_by, idempotency_key) DO NOTHING`, key, hash, ids, traceID, caller)
			if err != nil {
				return fmt.Errorf("api: insert batch: %w", err)
			}
			if tag.RowsAffected() == 1 {
				pub, err = insertJobs(ctx, tx, subs, envs, key)
				return err
			}
			var (
				storedHash []byte
				storedIDs  []string
			)
			err = tx.QueryRow(ctx, `SELECT request_hash, job_ids::text[] FROM batches WHERE created_by = $1 AND idempotency_key = $2`, caller, key).
				Scan(&storedHash, &storedIDs)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // gone again: next round
			}
			if err != nil {
				return fmt.Errorf("api: read batch by idempotency key: %w", err)
			}
			if !bytes.Equal(storedHash, hash) {
				return errBatchKeyReused
			}
			existing, err = jobsByIDs(ctx, tx, storedIDs)
			return err
		})
		switch {
		case err != nil:
			return nil, nil, err
		case pub != nil:
			return subs, pub, nil
		case existing != nil:
			return existing, nil, nil
		}
	}
	return nil, nil, errors.New("api: batch idempotency key conflicts but its batch cannot be read")
}

// jobsByIDs reads submissions in the order of ids; every one must exist.
func jobsByIDs(ctx context.Context, q queryer, ids []string) ([]submission, error) {
	rows, err := q.Query(ctx, selectSubmission+` WHERE id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("api: read %d jobs: %w", len(ids), err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (submission, error) { return scanSubmission(row) })
	if err != nil {
		return nil, fmt.Errorf("api: read %d jobs: %w", len(ids), err)
	}
	byID := make(map[string]submission, len(list))
	for _, s := range list {
		byID[s.ID] = s
	}
	out := make([]submission, len(ids))
	for i, id := range ids {
		s, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("api: job %s of a stored batch is missing", id)
		}
		out[i] = s
	}
	return out, nil
}
