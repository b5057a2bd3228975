-- +goose Up
-- How many jobs are RUNNING, kept as it changes (issue #14), so that a
-- dispatch pass and an ingest that dispatches read it in O(1) instead of
-- counting jobs_status_created_idx. That count visited every RUNNING
-- entry left since the last vacuum: a job's result moves it out of
-- RUNNING with a non-HOT update, and a bitmap scan never marks the old
-- entry dead, so after 40,000 jobs at 2,000/s each count read 2,000
-- buffers (10.7 ms) to find none; it was the fifth costliest statement.
--
-- Statement triggers add each statement's change of the count to a row
-- of the backend that ran it: no two transactions ever wait for the same
-- row, and a transaction's change becomes visible when its jobs do, so
-- the sum reads what count(*) would under the same snapshot. The
-- scheduler folds the rows of backends that are gone into pid 0 (see
-- runningCountFold). The triggers take the table's SHARE ROW EXCLUSIVE
-- lock, so no job changes between the seed below and the triggers.
CREATE TABLE jobs_running (
    pid int    PRIMARY KEY, -- pg_backend_pid() of the writer; 0: the folded rest
    n   bigint NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION jobs_running_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d bigint := 0;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM jobs_running;
        INSERT INTO jobs_running (pid, n) VALUES (0, 0);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT d + count(*) INTO d FROM new_jobs WHERE status = 'RUNNING';
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT d - count(*) INTO d FROM old_jobs WHERE status = 'RUNNING';
    END IF;
    IF d <> 0 THEN
        INSERT INTO jobs_running (pid, n) VALUES (pg_backend_pid(), d)
        ON CONFLICT (pid) DO UPDATE SET n = jobs_running.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER jobs_running_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION jobs_running_count();
CREATE TRIGGER jobs_running_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION jobs_running_count();
CREATE TRIGGER jobs_running_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS old_jobs FOR EACH STATEMENT EXECUTE FUNCTION jobs_running_count();
CREATE TRIGGER jobs_running_truncate AFTER TRUNCATE ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_running_count();

INSERT INTO jobs_running (pid, n) SELECT 0, count(*) FROM jobs WHERE status = 'RUNNING';

-- +goose Down
DROP TRIGGER jobs_running_truncate ON jobs;
DROP TRIGGER jobs_running_delete ON jobs;
DROP TRIGGER jobs_running_update ON jobs;
DROP TRIGGER jobs_running_insert ON jobs;
DROP FUNCTION jobs_running_count();
DROP TABLE jobs_running;
