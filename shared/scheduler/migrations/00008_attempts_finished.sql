-- +goose NO TRANSACTION
-- +goose Up
-- GET /api/system's throughput (the scheduler's GET /internal/stats):
-- attempts finished in the last hour, per minute and outcome. job_attempts
-- is never pruned, so without this index each poll would read the whole
-- table; with it, only the last hour's entries, without visiting the
-- table (outcome is in the index). Built CONCURRENTLY: a deployed table
-- keeps taking writes meanwhile.
CREATE INDEX CONCURRENTLY IF NOT EXISTS job_attempts_finished_idx
    ON job_attempts (finished_at) INCLUDE (outcome) WHERE finished_at IS NOT NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS job_attempts_finished_idx;
