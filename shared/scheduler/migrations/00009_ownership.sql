-- +goose NO TRANSACTION
-- +goose Up
-- Ownership (issue #12). created_by: the caller who submitted the job (an
-- API key's ID, "jwt:<sub>" or "anonymous"), from its job-created event
-- (older events have none: "anonymous"). cancelled_by: who cancelled it,
-- shown as the by of the history's CANCELLED event (NULL for a job
-- cancelled before this, or not cancelled). Constant defaults: adding
-- them rewrites no rows.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS created_by text NOT NULL DEFAULT 'anonymous';
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS cancelled_by text;
-- GET /internal/jobs?createdBy=: one caller's jobs in the list's order,
-- read through this index like the other filters (00004). Built
-- CONCURRENTLY: a deployed jobs table keeps taking writes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_creator_created_idx ON jobs (created_by, created_at DESC, id DESC);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS jobs_creator_created_idx;
ALTER TABLE jobs DROP COLUMN IF EXISTS cancelled_by;
ALTER TABLE jobs DROP COLUMN IF EXISTS created_by;
