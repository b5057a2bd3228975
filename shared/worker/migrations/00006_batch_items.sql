-- +goose Up
-- BATCH_PROCESS item results. The batch step runs its item step once per
-- item, chunk by chunk; each chunk's results go in here in one statement
-- (an attempt cut mid-chunk writes the items it finished the same way),
-- so a later attempt (after a deadline cut, a crash, a rescue) runs only
-- the items without a row, and a finished item never runs again. A retry
-- after too many failures starts a new pass, which runs the FAILED items
-- again: pass is the pass an item last ran in, and a SUCCEEDED row is
-- never overwritten. output is the item step's output (NULL when it has
-- none or it was omitted: over step.MaxOutputBytes, or past the job's
-- worker.MaxBatchOutputBytes); bytes is its length. GET
-- /internal/items/{jobId} pages them by item_index.
CREATE TABLE batch_items (
    job_id         uuid        NOT NULL,
    item_index     int         NOT NULL,
    pass           int         NOT NULL,
    attempt        int         NOT NULL,
    status         text        NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED')),
    output         jsonb,
    bytes          int         NOT NULL DEFAULT 0,
    output_omitted boolean     NOT NULL DEFAULT false,
    error_code     text,
    error          text,
    permanent      boolean     NOT NULL DEFAULT false,
    finished_at    timestamptz NOT NULL,
    PRIMARY KEY (job_id, item_index)
);

-- +goose Down
DROP TABLE batch_items;
