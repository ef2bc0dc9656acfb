-- Webhooks (Standard Webhooks 1.0): each site's endpoints, the messages
-- owed to them (a durable queue: a message is written in the same
-- transaction as what it reports, and stays until delivered or given up),
-- and every delivery attempt, for the dashboard's log.
CREATE TABLE webhook_endpoints (
    site             TEXT NOT NULL REFERENCES sites(id),
    id               TEXT NOT NULL,
    url              TEXT NOT NULL,
    -- Comma-separated event types, e.g. 'coupon.redeemed,customer.erased'.
    events           TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    -- 'whsec_' + base64 of the key; the previous one signs too until
    -- previous_until_ms after a rotation.
    secret           TEXT NOT NULL,
    previous_secret  TEXT,
    previous_until_ms BIGINT,
    created_ms       BIGINT NOT NULL,
    -- Set when deliveries kept failing (or by an admin); messages wait.
    disabled_ms      BIGINT,
    disabled_reason  TEXT,
    PRIMARY KEY (site, id)
);

CREATE TABLE webhook_messages (
    site          TEXT NOT NULL,
    endpoint      TEXT NOT NULL,
    -- The webhook-id: the same on every attempt, so receivers deduplicate.
    id            TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    -- 'pending', 'delivered' or 'failed' (every attempt of its schedule
    -- failed; a replay makes it pending again).
    state         TEXT NOT NULL,
    -- When it is next due (also a lease: taking a message moves it ahead).
    next_ms       BIGINT NOT NULL,
    -- Attempts in its current schedule.
    attempts      INTEGER NOT NULL DEFAULT 0,
    delivered_ms  BIGINT,
    PRIMARY KEY (site, endpoint, id)
);
CREATE INDEX webhook_messages_due ON webhook_messages (state, next_ms);

CREATE TABLE webhook_attempts (
    site      TEXT NOT NULL,
    endpoint  TEXT NOT NULL,
    id        TEXT NOT NULL,
    attempt   INTEGER NOT NULL,
    at_ms     BIGINT NOT NULL,
    -- The receiver's HTTP status, or NULL when none came (refused, reset,
    -- timed out: `error` says which).
    status    INTEGER,
    error     TEXT,
    took_ms   BIGINT NOT NULL,
    PRIMARY KEY (site, endpoint, id, attempt)
);
