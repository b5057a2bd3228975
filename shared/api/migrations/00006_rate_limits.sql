-- +goose Up
-- Rate limits per caller (issue #12, shared/ratelimit): one GCRA bucket
-- per caller (a key ID, jwt:<sub> or anonymous), shared by every api
-- process. tat is the bucket's theoretical arrival time in Unix seconds
-- (the database's clock): the bucket is full when tat <= now, and a lease
-- of n tokens moves it n/rate seconds on. granted is what the last lease
-- got, so that one INSERT ... ON CONFLICT DO UPDATE ... RETURNING both
-- decides and answers.
CREATE TABLE rate_buckets (
    caller     text             PRIMARY KEY,
    tat        double precision NOT NULL,
    granted    integer          NOT NULL,
    updated_at timestamptz      NOT NULL DEFAULT now()
);

-- A key's own limit (POST /api/keys rateLimit, rateBurst); NULL follows
-- API_RATE_LIMIT and API_RATE_BURST.
ALTER TABLE api_keys
    ADD COLUMN rate_limit double precision CHECK (rate_limit > 0),
    ADD COLUMN rate_burst integer CHECK (rate_burst > 0),
    ADD CONSTRAINT api_keys_rate_burst_needs_limit CHECK (rate_burst IS NULL OR rate_limit IS NOT NULL);

-- +goose Down
ALTER TABLE api_keys DROP CONSTRAINT api_keys_rate_burst_needs_limit,
    DROP COLUMN rate_burst, DROP COLUMN rate_limit;
DROP TABLE rate_buckets;
