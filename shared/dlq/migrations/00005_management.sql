-- +goose NO TRANSACTION
-- +goose Up
-- DLQ management (issue #11): an entry is NEW until an operator retries
-- (RETRIED) or dismisses (DISMISSED) it; mapping failures keep REPLAYED and
-- PARTLY_REPLAYED. resolved_at and resolved_by say when and by whom, and
-- retried_attempt the attempt number the job runs next after a retry.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS resolved_at timestamptz;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS resolved_by text;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS retried_attempt integer;
ALTER TABLE dead_letters DROP CONSTRAINT IF EXISTS dead_letters_status_check;
ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_status_check
    CHECK (status IN ('NEW', 'RETRIED', 'DISMISSED', 'REPLAYED', 'PARTLY_REPLAYED')) NOT VALID;

-- The list is newest first, (received_at, event_id) descending, with
-- optional equality filters: each filter has an index in the list's
-- order, so that a filtered page (and its keyset cursor) is one range of
-- an index, whatever the table's size. The failedAt range (from, to) has
-- its own. Retention reads the status index by age too.
CREATE INDEX CONCURRENTLY IF NOT EXISTS dead_letters_status_idx ON dead_letters (status, received_at DESC, event_id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS dead_letters_type_idx ON dead_letters (job_type, received_at DESC, event_id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS dead_letters_code_idx ON dead_letters (error_code, received_at DESC, event_id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS dead_letters_reason_idx ON dead_letters (reason, received_at DESC, event_id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS dead_letters_trace_idx ON dead_letters (trace_id, received_at DESC, event_id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS dead_letters_failed_idx ON dead_letters (failed_at DESC, event_id DESC);

-- Bulk operations (POST /api/dlq/retry, /api/dlq/dismiss): one row each,
-- worked in chunks by the maintenance route. An operation acts on the
-- entries it names (ids, in order; cursor_idx is the next index) or on
-- those its filter matches that were received by snapshot_at (newest
-- first; cursor_at/cursor_id is the last one done). Each chunk commits
-- its entries and the cursor together, so a crash resumes where the last
-- commit left off.
CREATE TABLE IF NOT EXISTS operations (
    id          uuid        PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('DLQ_RETRY', 'DLQ_DISMISS')),
    status      text        NOT NULL DEFAULT 'RUNNING' CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED')),
    filter      jsonb,
    ids         uuid[],
    snapshot_at timestamptz NOT NULL,
    requested_by text       NOT NULL DEFAULT '',
    total       integer     NOT NULL DEFAULT 0,
    done        integer     NOT NULL DEFAULT 0,
    failed      integer     NOT NULL DEFAULT 0,
    cursor_at   timestamptz,
    cursor_id   uuid,
    cursor_idx  integer     NOT NULL DEFAULT 0,
    last_error  text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX IF NOT EXISTS operations_running_idx ON operations (started_at) WHERE status = 'RUNNING';
CREATE INDEX IF NOT EXISTS operations_finished_idx ON operations (finished_at) WHERE status <> 'RUNNING';

-- +goose Down
DROP TABLE IF EXISTS operations;
DROP INDEX CONCURRENTLY IF EXISTS dead_letters_failed_idx;
DROP INDEX CONCURRENTLY IF EXISTS dead_letters_trace_idx;
DROP INDEX CONCURRENTLY IF EXISTS dead_letters_reason_idx;
DROP INDEX CONCURRENTLY IF EXISTS dead_letters_code_idx;
DROP INDEX CONCURRENTLY IF EXISTS dead_letters_type_idx;
DROP INDEX CONCURRENTLY IF EXISTS dead_letters_status_idx;
ALTER TABLE dead_letters DROP CONSTRAINT IF EXISTS dead_letters_status_check;
ALTER TABLE dead_letters DROP COLUMN IF EXISTS retried_attempt;
ALTER TABLE dead_letters DROP COLUMN IF EXISTS resolved_by;
ALTER TABLE dead_letters DROP COLUMN IF EXISTS resolved_at;
