-- +goose NO TRANSACTION
-- +goose Up
-- Ownership (issue #12): every job and batch records its caller (an API
-- key's ID, "jwt:<sub>" or "anonymous"; rows from before this are
-- "anonymous"), and idempotency keys are scoped per caller: the unique
-- key becomes (created_by, idempotency_key), so two callers using the
-- same key get two jobs. A constant default adds the column without
-- rewriting rows. The new unique indexes are built CONCURRENTLY (this
-- file runs outside a transaction), so a deployed api keeps taking
-- submissions; the old constraints are dropped once they exist.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS created_by text NOT NULL DEFAULT 'anonymous';
ALTER TABLE batches ADD COLUMN IF NOT EXISTS created_by text NOT NULL DEFAULT 'anonymous';
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS jobs_caller_idempotency_key ON jobs (created_by, idempotency_key);
ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_idempotency_key_key;
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS batches_caller_idempotency_key ON batches (created_by, idempotency_key);
-- The batch's primary key becomes the per-caller key, on the index just built.
ALTER TABLE batches DROP CONSTRAINT IF EXISTS batches_pkey;
-- +goose StatementBegin
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'batches_caller_idempotency_key') THEN
        ALTER TABLE batches ADD CONSTRAINT batches_caller_idempotency_key PRIMARY KEY USING INDEX batches_caller_idempotency_key;
    END IF;
END $$;
-- +goose StatementEnd
-- The audit now grows with every submission: its caller and action
-- filters (GET /api/audit?caller=, ?action=) read through indexes in the
-- list's order instead of scanning every job's row. Their entries append
-- (at grows within a caller or action); target has none: a random jobId
-- per submission would cost every submit more, for a rare admin query
-- (?target= scans the audit).
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_caller_at ON audit (caller, at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_action_at ON audit (action, at DESC, id DESC);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS audit_action_at;
DROP INDEX CONCURRENTLY IF EXISTS audit_caller_at;
-- Fails while two callers hold the same key: resolve those rows first.
ALTER TABLE batches DROP CONSTRAINT IF EXISTS batches_caller_idempotency_key;
ALTER TABLE batches ADD CONSTRAINT batches_pkey PRIMARY KEY (idempotency_key);
ALTER TABLE jobs ADD CONSTRAINT jobs_idempotency_key_key UNIQUE (idempotency_key);
DROP INDEX CONCURRENTLY IF EXISTS jobs_caller_idempotency_key;
ALTER TABLE batches DROP COLUMN IF EXISTS created_by;
ALTER TABLE jobs DROP COLUMN IF EXISTS created_by;
