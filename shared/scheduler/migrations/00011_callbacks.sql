-- +goose Up
-- WAIT_FOR_CALLBACK (docs/job-types.md). One row per job, for its latest
-- wait: while the job is WAITING for it, token is the one-use credential
-- of POST /api/jobs/{id}/callbacks/{token} and expires_at its timeout
-- (the job's next_run_at). A callback clears the token and keeps the body
-- in result; a timeout clears it and sets timed_out. Every later run-job
-- of the job carries the result (step_index) until it waits again.
CREATE TABLE job_callbacks (
    job_id      uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    step_index  int NOT NULL,
    step_id     text,
    token       text,
    expires_at  timestamptz NOT NULL,
    result      text,
    timed_out   boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    answered_at timestamptz
);

-- +goose Down
DROP TABLE job_callbacks;
