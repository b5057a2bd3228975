-- +goose Up
-- One row per finished attempt, keyed by the run-job event ID, so a
-- redelivered run-job never runs its steps again.
CREATE TABLE executions (
    event_id    uuid        PRIMARY KEY,
    job_id      uuid        NOT NULL,
    attempt     int         NOT NULL,
    trace_id    text        NOT NULL DEFAULT '',
    status      text        NOT NULL CHECK (status IN ('COMPLETED', 'FAILED')),
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    duration_ms bigint      NOT NULL,
    error_code  text,
    error       text,
    steps       jsonb       NOT NULL
);
CREATE INDEX executions_job_idx ON executions (job_id, attempt);

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
DROP TABLE executions;
