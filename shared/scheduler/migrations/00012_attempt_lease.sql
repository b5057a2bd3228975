-- +goose NO TRANSACTION
-- +goose Up
-- A start writes only its attempt row (issue #14): the lease moves from
-- jobs to job_attempts, so that starting (and renewing, by starting the
-- same dispatch again) changes no indexed column of either table. The
-- update is HOT: no index entry, no rewrite of the wide jobs row and its
-- dozen indexes (docs/architecture.md, "Leases").
--
-- lease_until: the started attempt's lease (NULL until a worker starts
-- it). dispatch_id: the dispatch that may start it, as jobs.dispatch_id
-- (NULL for attempts dispatched before this migration: their job's
-- dispatch ID fences them). Neither has a default: adding them rewrites
-- no rows. Leases set on jobs.lease_until by a scheduler still running
-- the old code during the update still count: the rescue, the queue
-- timeout and the job view read the later of the two.
ALTER TABLE job_attempts ADD COLUMN IF NOT EXISTS lease_until timestamptz,
                         ADD COLUMN IF NOT EXISTS dispatch_id uuid;
-- The leases of attempts started so far (and the dispatch-time leases
-- of jobs from before migration 00005), on their attempt rows.
UPDATE job_attempts a SET lease_until = j.lease_until
  FROM jobs j
 WHERE a.job_id = j.id AND a.attempt = j.attempts AND j.status = 'RUNNING'
   AND j.lease_until IS NOT NULL AND a.outcome IS NULL AND a.lease_until IS NULL;
-- Room on each page for the start's new row version next to the old
-- one: a HOT update needs it (applies to pages filled from now on). A
-- burst dispatches whole pages of attempts before their starts come in;
-- at 80 only a third of the starts of the throughput bench were HOT, at
-- 50 nine in ten, and the table came out no larger (pruning reuses the
-- page instead of moving rows to new ones).
ALTER TABLE job_attempts SET (fillfactor = 50);
-- The open attempts (no outcome yet): the dispatched and started ones,
-- at most SCHEDULER_MAX_IN_FLIGHT. The lease rescue reads them all; the
-- queue timeout only those dispatched before its cutoff. Keyed by a
-- column a start does not change, so the start stays HOT. Built
-- CONCURRENTLY: job_attempts is never pruned, and keeps taking writes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS job_attempts_open_idx
    ON job_attempts (dispatched_at) WHERE outcome IS NULL;
-- Nothing reads these any more; every job update maintained them.
DROP INDEX CONCURRENTLY IF EXISTS jobs_lease_idx;
DROP INDEX CONCURRENTLY IF EXISTS jobs_unstarted_idx;

-- +goose Down
-- The older code reads the lease, the unstarted state and the first
-- start from jobs.
UPDATE jobs j SET lease_until = greatest(j.lease_until, a.lease_until),
                  started_at = coalesce(j.started_at, a.started_at)
  FROM job_attempts a
 WHERE a.job_id = j.id AND a.attempt = j.attempts AND j.status = 'RUNNING' AND a.started_at IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_unstarted_idx ON jobs (dispatched_at) WHERE status = 'RUNNING' AND lease_until IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_lease_idx ON jobs (lease_until) WHERE status = 'RUNNING';
DROP INDEX CONCURRENTLY IF EXISTS job_attempts_open_idx;
ALTER TABLE job_attempts RESET (fillfactor);
ALTER TABLE job_attempts DROP COLUMN IF EXISTS dispatch_id, DROP COLUMN IF EXISTS lease_until;
