-- +goose Up
-- Durable resume. Every step a job finishes is checkpointed here, in its
-- own short transaction right after the step ends and before the next one
-- starts (the last step's, with the attempt's executions row); every later attempt of the job (after a deadline cut, a crash,
-- a lease rescue, a failed step's retry, a park) loads the job's
-- checkpoints and starts at the first step without one. output is the
-- step's kept output (NULL when it has none). finished_at is when the
-- step finished, or, for a SLEEP that parked the job, when it will have
-- finished (the wake time): a checkpoint in the future is a park.
CREATE TABLE step_checkpoints (
    job_id      uuid        NOT NULL,
    step_index  int         NOT NULL,
    step_id     text,
    output      jsonb,
    attempt     int         NOT NULL,
    finished_at timestamptz NOT NULL,
    PRIMARY KEY (job_id, step_index)
);

-- The no-progress guard: how many attempts of a job in a row yielded
-- (were cut by a deadline) without a new checkpoint. Reset by progress.
CREATE TABLE job_yields (
    job_id uuid PRIMARY KEY,
    idle   int  NOT NULL
);

-- An attempt may end yielded (cut by a deadline, dispatched again
-- uncharged) or parked (a long SLEEP: the scheduler wakes it).
ALTER TABLE executions DROP CONSTRAINT executions_status_check;
ALTER TABLE executions ADD CONSTRAINT executions_status_check
    CHECK (status IN ('COMPLETED', 'FAILED', 'YIELDED', 'PARKED'));

-- +goose Down
ALTER TABLE executions DROP CONSTRAINT executions_status_check;
ALTER TABLE executions ADD CONSTRAINT executions_status_check CHECK (status IN ('COMPLETED', 'FAILED'));
DROP TABLE job_yields;
DROP TABLE step_checkpoints;
