-- +goose Up
-- The outputs of an attempt's steps, for the job types that keep them
-- (WEBHOOK, DATA_PIPELINE): one row per step that produced one, written
-- in the transaction that records its execution. Bounded: a step's output
-- is at most 64 KiB (step.MaxOutputBytes), an attempt's outputs at most
-- 1 MiB in all (worker.MaxAttemptOutputBytes). GET /internal/executions
-- shows them as each step's output.
CREATE TABLE step_outputs (
    event_id   uuid  NOT NULL REFERENCES executions (event_id) ON DELETE CASCADE,
    step_index int   NOT NULL,
    job_id     uuid  NOT NULL,
    step_id    text,
    output     jsonb NOT NULL,
    bytes      int   NOT NULL,
    PRIMARY KEY (event_id, step_index)
);
CREATE INDEX step_outputs_job_idx ON step_outputs (job_id, step_id);

-- +goose Down
DROP TABLE step_outputs;
