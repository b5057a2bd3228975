-- +goose Up
-- API keys (issue #12): only a key's SHA-256 is stored; prefix is its
-- first characters (jw_ and 8), shown in listings. A key stops working
-- when revoked_at or expires_at is past (within the api's 10 s cache).
CREATE TABLE api_keys (
    id           uuid        PRIMARY KEY,
    prefix       text        NOT NULL,
    hash         bytea       NOT NULL UNIQUE CHECK (length(hash) = 32),
    name         text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz
);

-- Who did what: caller is a key ID, API_ADMIN_KEY (the seed) or
-- "anonymous". Listed newest first by GET /api/audit.
CREATE TABLE audit (
    id     uuid        PRIMARY KEY, -- UUIDv7
    at     timestamptz NOT NULL DEFAULT now(),
    caller text        NOT NULL,
    action text        NOT NULL,
    target text        NOT NULL DEFAULT '',
    detail jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_at ON audit (at DESC, id DESC);

-- +goose Down
DROP TABLE audit;
DROP TABLE api_keys;
