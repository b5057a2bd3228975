-- +goose NO TRANSACTION
-- +goose Up
-- Manual retries, the job history and the list's updatedSince (issue 11).
--
-- budget_base: attempts made before the job's current retry budget began.
-- A manual retry (POST /internal/jobs/{id}/retry) sets it to the attempts
-- so far, so the job may run maxRetryCount+1 more attempts while attempt
-- numbers carry on: retries left = budget_base + max_retry_count + 1 - attempts.
-- A fast default: adding it rewrites no rows.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS budget_base int NOT NULL DEFAULT 0;
-- What the history cannot derive from an attempt row, written by the same
-- statement that records the attempt's outcome (no extra write):
-- retry_at, when the retry it scheduled is due; dead_letter_id, the
-- job-dead-letter event it made (the dlq entry's ID).
ALTER TABLE job_attempts ADD COLUMN IF NOT EXISTS retry_at timestamptz;
ALTER TABLE job_attempts ADD COLUMN IF NOT EXISTS dead_letter_id uuid;
-- One row per manual retry, keyed by the dead letter it retried: a second
-- call with the same dlqId finds it and changes nothing.
CREATE TABLE IF NOT EXISTS job_manual_retries (
    job_id        uuid        NOT NULL REFERENCES jobs (id),
    dlq_id        uuid        NOT NULL,
    retried_by    text        NOT NULL,
    after_attempt int         NOT NULL, -- the attempts the job had; the next is after_attempt+1
    retried_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, dlq_id)
);
-- GET /internal/jobs?updatedSince=: the changes since a time, newest
-- first, read through this index alone. Built CONCURRENTLY (this file runs
-- outside a transaction), so a deployed jobs table keeps taking writes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_updated_idx ON jobs (updated_at DESC, id DESC);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS jobs_updated_idx;
DROP TABLE IF EXISTS job_manual_retries;
ALTER TABLE job_attempts DROP COLUMN IF EXISTS dead_letter_id;
ALTER TABLE job_attempts DROP COLUMN IF EXISTS retry_at;
ALTER TABLE jobs DROP COLUMN IF EXISTS budget_base;
