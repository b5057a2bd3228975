-- +goose NO TRANSACTION
-- +goose Up
-- The list reads newest first with ties broken by event ID, both
-- descending, so that a keyset cursor (received_at, event_id) < (t, id)
-- is one range of this index.
CREATE INDEX CONCURRENTLY IF NOT EXISTS dead_letters_list_idx ON dead_letters (received_at DESC, event_id DESC);
DROP INDEX CONCURRENTLY IF EXISTS dead_letters_received_idx;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS dead_letters_received_idx ON dead_letters (received_at DESC, event_id);
DROP INDEX CONCURRENTLY IF EXISTS dead_letters_list_idx;
