-- +goose NO TRANSACTION
-- +goose Up
-- Pruning of durable resume's tables (prune.go): step_checkpoints and
-- job_yields would otherwise grow with every job forever. A job's
-- checkpoints go once its newest one (a parked SLEEP's is its wake time)
-- is older than WORKER_CHECKPOINT_RETENTION; a job_yields row once its
-- last yield is. Both passes read the oldest rows first, so each needs an
-- index on its time. yielded_at is new: the rows already there count from
-- this migration (now() is evaluated once, so the column is added without
-- rewriting the table). The indexes are built CONCURRENTLY: a deployed
-- worker keeps writing checkpoints meanwhile.
ALTER TABLE job_yields ADD COLUMN IF NOT EXISTS yielded_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX CONCURRENTLY IF NOT EXISTS step_checkpoints_finished_idx ON step_checkpoints (finished_at);
CREATE INDEX CONCURRENTLY IF NOT EXISTS job_yields_yielded_idx ON job_yields (yielded_at);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS job_yields_yielded_idx;
DROP INDEX CONCURRENTLY IF EXISTS step_checkpoints_finished_idx;
ALTER TABLE job_yields DROP COLUMN IF EXISTS yielded_at;
