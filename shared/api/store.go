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
	}
}

const selectSubmission = `SELECT id::text, job_type, payload, max_retry_count, trace_id, created_at, request_hash FROM jobs`

func scanSubmission(row pgx.Row) (submission, error) {
	var s submission
	err := row.Scan(&s.ID, &s.JobType, &s.Payload, &s.MaxRetryCount, &s.TraceID, &s.CreatedAt, &s.RequestHash)
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

// createJob stores a valid submission and its JobCreated event in one
// statement, and returns the event to publish. With an idempotency key, a
// submission already stored under that key is returned instead (with no
// event) when its request hash
// matches, and a different one is API.IDEMPOTENCY_KEY_REUSED.
func createJob(ctx context.Context, pool *pgxpool.Pool, job jobspec.Job, key, traceID string) (submission, *pendingEvent, error) {
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
		sub, created, pub, err := insertJob(ctx, pool, job, keyArg, hash, traceID)
		if err != nil || created {
			return sub, pub, err
		}
		if key == "" {
			return submission{}, nil, errors.New("api: insert without idempotency key stored nothing")
		}
		existing, err := scanSubmission(pool.QueryRow(ctx, selectSubmission+` WHERE idempotency_key = $1`, key))
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

// insertJob stores the job and its JobCreated outbox row in one statement
// (one round trip, one commit). created is false, with no error, when the
// idempotency key is already taken. On success it returns the event and its
// outbox row for the caller to publish.
func insertJob(ctx context.Context, pool *pgxpool.Pool, job jobspec.Job, key *string, hash []byte, traceID string) (sub submission, created bool, pub *pendingEvent, err error) {
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
	}
	env, err := envelope.New(envelope.TypeJobCreated, traceID, sub.ID, sub.jobCreated())
	if err != nil {
		return sub, false, nil, err
	}
	row := outbox.Row(env)
	var outboxID int64
	err = pool.QueryRow(ctx, `
		WITH job AS (
			INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, idempotency_key, request_hash, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (idempotency_key) DO NOTHING
			RETURNING id)
		INSERT INTO outbox (topic, key, value, headers)
		SELECT $9, $10, $11, $12 FROM job
		RETURNING id`,
		sub.ID, sub.JobType, sub.Payload, sub.MaxRetryCount, sub.TraceID, key, hash, sub.CreatedAt,
		row.Topic, row.Key, row.Value, row.Headers).Scan(&outboxID)
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

// insertJobs stores many jobs without idempotency keys and their
// JobCreated outbox rows in one statement.
func insertJobs(ctx context.Context, pool *pgxpool.Pool, jobs []jobspec.Job, traceID string) ([]submission, *pendingEvent, error) {
	n := len(jobs)
	subs := make([]submission, n)
	envs := make([]envelope.Envelope, n)
	var (
		ids, types, tids, topics []string
		payloads, hashes         [][]byte
		keys, values, headers    [][]byte
		retries                  []int32
		created                  []time.Time
	)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for i, job := range jobs {
		id, err := uuid.NewV7()
		if err != nil {
			id = uuid.New()
		}
		subs[i] = submission{
			ID: id.String(), JobType: job.JobType, Payload: job.PayloadJSON(), MaxRetryCount: job.MaxRetryCount,
			TraceID: traceID, RequestHash: requestHash(job), CreatedAt: now,
		}
		env, err := envelope.New(envelope.TypeJobCreated, traceID, subs[i].ID, subs[i].jobCreated())
		if err != nil {
			return nil, nil, err
		}
		envs[i] = env
		row := outbox.Row(env)
		ids, types, tids = append(ids, subs[i].ID), append(types, job.JobType), append(tids, traceID)
		payloads, hashes = append(payloads, subs[i].Payload), append(hashes, subs[i].RequestHash)
		retries, created = append(retries, int32(job.MaxRetryCount)), append(created, now)
		topics, keys, values, headers = append(topics, row.Topic), append(keys, row.Key), append(values, row.Value), append(headers, row.Headers)
	}
	rows, err := pool.Query(ctx, `
		WITH job AS (
			INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, request_hash, created_at)
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::int[], $5::text[], $6::bytea[], $7::timestamptz[]))
		INSERT INTO outbox (topic, key, value, headers)
		SELECT * FROM unnest($8::text[], $9::bytea[], $10::bytea[], $11::jsonb[])
		RETURNING id`,
		ids, types, payloads, retries, tids, hashes, created, topics, keys, values, headers)
	if err != nil {
		return nil, nil, fmt.Errorf("api: insert %d jobs: %w", n, err)
	}
	outboxIDs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, nil, fmt.Errorf("api: insert %d jobs: %w", n, err)
	}
	return subs, &pendingEvent{ids: outboxIDs, envs: envs}, nil
}
