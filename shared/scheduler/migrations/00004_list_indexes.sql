-- +goose NO TRANSACTION
-- +goose Up
-- The filters of GET /internal/jobs (status, type, traceId), each with
-- the list's order, so that a filtered page, its keyset cursor and its
-- capped count read only the rows they show. The created range uses
-- jobs_created_idx. Built CONCURRENTLY: a deployed jobs table keeps
-- taking writes meanwhile (goose runs this file outside a transaction).
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_status_created_idx ON jobs (status, created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_type_created_idx   ON jobs (job_type, created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_trace_created_idx  ON jobs (trace_id, created_at DESC, id DESC);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS jobs_trace_created_idx;
DROP INDEX CONCURRENTLY IF EXISTS jobs_type_created_idx;
DROP INDEX CONCURRENTLY IF EXISTS jobs_status_created_idx;
