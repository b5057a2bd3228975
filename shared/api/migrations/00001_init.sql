-- +goose Up
-- Submissions as accepted. Live status belongs to the scheduler.
CREATE TABLE jobs (
    id              uuid        PRIMARY KEY,
    job_type        text        NOT NULL,
    payload         jsonb       NOT NULL,
    max_retry_count int         NOT NULL,
    trace_id        text        NOT NULL,
    idempotency_key text        UNIQUE,
    request_hash    bytea,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC);

CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    topic      text        NOT NULL,
    key        bytea,
    value      bytea       NOT NULL,
    headers    jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE outbox;
DROP TABLE jobs;
