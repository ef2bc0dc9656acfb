-- Named API tokens for automation, made by admins; only their SHA-256 is kept.
CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
