-- +goose Up
-- The outbox is written and emptied all the time: every row dies within
-- milliseconds. Vacuum it after a fixed number of dead rows rather than a
-- share of a table that is always nearly empty, so claims do not wade
-- through dead index entries.
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000);
-- Every job is updated a few times on its way through; vacuum it early.
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE job_attempts SET (autovacuum_vacuum_scale_factor = 0.05);

-- +goose Down
ALTER TABLE outbox RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold);
ALTER TABLE jobs RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor);
ALTER TABLE job_attempts RESET (autovacuum_vacuum_scale_factor);
