-- +goose Up
-- Notifications of new dead letters (DLQ_WEBHOOK_URL, DLQ_SNS_TOPIC_ARN).
-- The transaction that stores an entry queues it here, so that no entry
-- is stored without its notification, nor notified without being stored.
-- A row leaves the queue when a delivery pass packs it into batches.
CREATE TABLE notify_queue (
    entry_id  uuid        PRIMARY KEY REFERENCES dead_letters (event_id) ON DELETE CASCADE,
    queued_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notify_queue_order_idx ON notify_queue (queued_at, entry_id);

-- One batch of entry summaries for one channel (webhook or sns), with
-- its delivery state. The entries are fixed when the batch is made, so
-- that every attempt of a delivery (one id, for receivers to dedupe)
-- carries the same entries. A claimed delivery's next_attempt_at is a
-- lease: a pass that dies mid-send leaves it due again after the lease.
CREATE TABLE notify_deliveries (
    id              uuid        PRIMARY KEY,
    channel         text        NOT NULL CHECK (channel IN ('webhook', 'sns')),
    state           text        NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'DELIVERED', 'FAILED')),
    entries         jsonb       NOT NULL,
    entry_count     int         NOT NULL,
    attempts        int         NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    last_attempt_at timestamptz,
    last_status     int,        -- the webhook's HTTP status, if it answered
    last_error      text,       -- why the last attempt failed; NULL once delivered
    delivered_at    timestamptz
);
CREATE INDEX notify_deliveries_due_idx ON notify_deliveries (channel, next_attempt_at, id) WHERE state = 'PENDING';
CREATE INDEX notify_deliveries_done_idx ON notify_deliveries (last_attempt_at) WHERE state <> 'PENDING';

-- +goose Down
DROP TABLE notify_deliveries;
DROP TABLE notify_queue;
