-- +goose Up
-- Parked jobs (a long SLEEP; docs/reliability.md): status WAITING, with
-- next_run_at their wake time (the api shows it as waitingUntil). Each
-- pass wakes the due ones (PENDING, on the retry queue), oldest first,
-- through this index.
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'WAITING'));
CREATE INDEX jobs_waiting_idx ON jobs (next_run_at) WHERE status = 'WAITING';

-- +goose Down
DROP INDEX jobs_waiting_idx;
UPDATE jobs SET status = 'PENDING' WHERE status = 'WAITING';
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'));
