-- +goose Up
-- A lease measures work, not waiting (docs/architecture.md, "Leases").
-- dispatch_id is the run-job event of the job's current dispatch: only
-- that record may start the attempt. dispatched_at is when it was sent.
-- A RUNNING job with no lease_until is dispatched but not yet started.
ALTER TABLE jobs ADD COLUMN dispatch_id uuid, ADD COLUMN dispatched_at timestamptz;
ALTER TABLE job_attempts ADD COLUMN started_at timestamptz; -- when a worker claimed it
-- Dispatched attempts no worker started: returned after the queue timeout.
CREATE INDEX jobs_unstarted_idx ON jobs (dispatched_at) WHERE status = 'RUNNING' AND lease_until IS NULL;

-- +goose Down
DROP INDEX jobs_unstarted_idx;
ALTER TABLE job_attempts DROP COLUMN started_at;
ALTER TABLE jobs DROP COLUMN dispatched_at, DROP COLUMN dispatch_id;
