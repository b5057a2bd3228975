-- +goose Up
-- The outbox is written and emptied all the time: every row dies within
-- milliseconds. Vacuum it after a fixed number of dead rows rather than a
-- share of a table that is always nearly empty, so claims do not wade
-- through dead index entries.
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000);

-- +goose Down
ALTER TABLE outbox RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold);
