-- +goose Up
CREATE TABLE jobs (
    id              uuid        PRIMARY KEY,
    job_type        text        NOT NULL,
    payload         jsonb       NOT NULL,
    max_retry_count int         NOT NULL,
    trace_id        text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    attempts        int         NOT NULL DEFAULT 0, -- attempts dispatched so far
    next_run_at     timestamptz NOT NULL,
    lease_until     timestamptz,
    last_error_code text,
    last_error      text,
    created_at      timestamptz NOT NULL,           -- when the api accepted it
    ingested_at     timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,                    -- first dispatch
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         int         NOT NULL DEFAULT 0  -- optimistic lock
);
-- The two dispatch queues: fresh jobs and retries.
CREATE INDEX jobs_due_fresh_idx ON jobs (next_run_at) WHERE status = 'PENDING' AND attempts = 0;
CREATE INDEX jobs_due_retry_idx ON jobs (next_run_at) WHERE status = 'PENDING' AND attempts > 0;
CREATE INDEX jobs_lease_idx     ON jobs (lease_until) WHERE status = 'RUNNING';
CREATE INDEX jobs_created_idx   ON jobs (created_at DESC, id DESC);

CREATE TABLE job_attempts (
    job_id        uuid        NOT NULL REFERENCES jobs (id),
    attempt       int         NOT NULL,
    dispatched_at timestamptz NOT NULL,
    finished_at   timestamptz,
    duration_ms   bigint,
    outcome       text,       -- COMPLETED, FAILED, LEASE_EXPIRED, CANCELLED; NULL while running
    error_code    text,
    error         text,
    PRIMARY KEY (job_id, attempt)
);

-- Result events already applied (idempotent consumption). Rows older
-- than the dedup window are pruned by the tick (see prune.go).
CREATE TABLE processed_events (
    event_id     uuid        PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processed_events_at_idx ON processed_events (processed_at);

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
DROP TABLE processed_events;
DROP TABLE job_attempts;
DROP TABLE jobs;
