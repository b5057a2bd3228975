-- +goose Up
-- The Kafka cluster this database's work was last sent to (its cluster
-- ID). A local stack that finds another one (its broker's log was
-- removed) re-drives the work the old broker held: see Service.Redrive.
CREATE TABLE broker_identity (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    cluster_id  text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE broker_identity;
