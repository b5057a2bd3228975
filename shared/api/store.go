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

// jobCreated is the event payload the submission was published with.
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
// transaction. With an idempotency key, a submission already stored under
// that key is returned instead (created false) when its request hash
// matches, and a different one is API.IDEMPOTENCY_KEY_REUSED.
func createJob(ctx context.Context, pool *pgxpool.Pool, job jobspec.Job, key, traceID string) (submission, bool, error) {
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
		sub, created, err := insertJob(ctx, pool, job, keyArg, hash, traceID)
		if err != nil || created {
			return sub, created, err
		}
		if key == "" {
			return submission{}, false, errors.New("api: insert without idempotency key stored nothing")
		}
		existing, err := scanSubmission(pool.QueryRow(ctx, selectSubmission+` WHERE idempotency_key = $1`, key))
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return submission{}, false, fmt.Errorf("api: read job by idempotency key: %w", err)
		}
		if !bytes.Equal(existing.RequestHash, hash) {
			return submission{}, false, apierror.New(http.StatusUnprocessableEntity, "API.IDEMPOTENCY_KEY_REUSED",
				"this Idempotency-Key was already used for a different job submission; use a new key for a new job").WithJob(existing.ID)
		}
		return existing, false, nil
	}
	return submission{}, false, errors.New("api: idempotency key conflicts but its job cannot be read")
}

// insertJob runs the insert transaction. created is false, with no error,
// when the idempotency key is already taken.
func insertJob(ctx context.Context, pool *pgxpool.Pool, job jobspec.Job, key *string, hash []byte, traceID string) (submission, bool, error) {
	id, err := uuid.NewV7() // time-ordered: friendlier to the primary key index
	if err != nil {
		id = uuid.New()
	}
	sub := submission{
		ID:            id.String(),
		JobType:       job.JobType,
		Payload:       job.PayloadJSON(),
		MaxRetryCount: job.MaxRetryCount,
		TraceID:       traceID,
		RequestHash:   hash,
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return sub, false, fmt.Errorf("api: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	err = tx.QueryRow(ctx, `
		INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, idempotency_key, request_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (idempotency_key) DO NOTHING
		RETURNING created_at`,
		sub.ID, sub.JobType, sub.Payload, sub.MaxRetryCount, sub.TraceID, key, hash).Scan(&sub.CreatedAt)
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return sub, false, nil // the key is taken
	case errors.As(err, &pgErr) && pgErr.Code == "23505" && key != nil:
		return sub, false, nil // a unique violation on the key all the same: reread
	case err != nil:
		return sub, false, fmt.Errorf("api: insert job: %w", err)
	}
	env, err := envelope.New(envelope.TypeJobCreated, traceID, sub.ID, sub.jobCreated())
	if err != nil {
		return sub, false, err
	}
	if err := outbox.Add(ctx, tx, env); err != nil {
		return sub, false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return sub, false, fmt.Errorf("api: commit job: %w", err)
	}
	return sub, true, nil
}
