-- +goose Up
CREATE TABLE dead_letters (
    event_id    uuid        PRIMARY KEY,
    job_id      uuid,
    trace_id    text        NOT NULL DEFAULT '',
    job_type    text,
    reason      text        NOT NULL,
    error_code  text,
    last_error  text,
    job         jsonb,      -- the submission: jobType, payload, maxRetryCount
    attempts    jsonb       NOT NULL DEFAULT '[]',
    source      jsonb,      -- for poison records: topic, partition, offset, raw value
    status      text        NOT NULL DEFAULT 'NEW',
    failed_at   timestamptz,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_received_idx ON dead_letters (received_at DESC, event_id);
CREATE INDEX dead_letters_job_idx ON dead_letters (job_id);

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
DROP TABLE dead_letters;
