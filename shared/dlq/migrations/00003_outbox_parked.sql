-- +goose Up
-- Outbox rows that the broker refused for a reason no retry can fix
-- (MESSAGE_TOO_LARGE, INVALID_RECORD, ...). The relay moves such a row
-- here, in the transaction that deletes the rows it published, so that it
-- never blocks the others; it is surfaced by a dead letter (reason
-- OUTBOX_PARKED), the OutboxParked metric and its alarm. An operator reads
-- it here, and deletes it once handled.
CREATE TABLE outbox_parked (
    id         bigserial PRIMARY KEY,
    outbox_id  bigint      NOT NULL,
    topic      text        NOT NULL,
    key        bytea,
    value      bytea       NOT NULL,
    headers    jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    parked_at  timestamptz NOT NULL DEFAULT now(),
    error      text        NOT NULL
);

-- A dead letter's parked row (reason OUTBOX_PARKED) and what was trimmed
-- from it to fit the broker's record limit: {"parked": {...}, "trimmed":
-- {...}}, NULL when it has neither.
ALTER TABLE dead_letters ADD COLUMN detail jsonb;

-- +goose Down
ALTER TABLE dead_letters DROP COLUMN detail;
DROP TABLE outbox_parked;
