-- +goose Up
-- Idempotency keys of batches, a namespace of their own: a batch's key
-- never collides with a single submission's (jobs.idempotency_key) or
-- with the "K/i" keys batches used to give their jobs. A batch row and
-- its jobs commit in one transaction, or none of them does.
CREATE TABLE batches (
    idempotency_key text        PRIMARY KEY,
    request_hash    bytea       NOT NULL, -- over every job's canonical form, in order
    job_ids         uuid[]      NOT NULL, -- in the batch's order
    trace_id        text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE batches;
