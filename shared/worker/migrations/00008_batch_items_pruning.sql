-- +goose NO TRANSACTION
-- +goose Up
-- Pruning of BATCH_PROCESS item results (prune.go), like the checkpoints
-- (00007): a job's rows go once its newest is older than
-- WORKER_CHECKPOINT_RETENTION; the pass reads the oldest rows first.
-- Built CONCURRENTLY: a deployed worker keeps writing results meanwhile.
CREATE INDEX CONCURRENTLY IF NOT EXISTS batch_items_finished_idx ON batch_items (finished_at);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS batch_items_finished_idx;
