-- Admin accounts (argon2id password hashes) and their sessions, campaign
-- drafts and site settings that publishing turns into config versions, and
-- each site's retention of raw events.
CREATE TABLE admins (
    email         TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_ms    BIGINT NOT NULL
);

CREATE TABLE admin_sessions (
    token_hash TEXT PRIMARY KEY,
    email      TEXT NOT NULL REFERENCES admins(email),
    csrf       TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);

CREATE TABLE campaigns (
    site       TEXT NOT NULL REFERENCES sites(id),
    id         TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (site, id)
);

ALTER TABLE sites ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE sites ADD COLUMN retention_days BIGINT NOT NULL DEFAULT 90;

CREATE INDEX events_by_type ON events (site, type, ts);
