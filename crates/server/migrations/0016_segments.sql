-- Segments: named conditions over what the server knows of each shopper
-- (the rolled-up profile), their members with when each entered, and how
-- many entered and left each day.
CREATE TABLE segments (
    site          TEXT NOT NULL REFERENCES sites(id),
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    condition     TEXT NOT NULL,
    -- One of the built-in segments (its condition is the product's own).
    builtin       INTEGER NOT NULL DEFAULT 0,
    created_ms    BIGINT NOT NULL,
    -- When membership was last worked out (NULL: never; the first fill
    -- sends no webhooks).
    refreshed_ms  BIGINT,
    members       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site, id)
);

CREATE TABLE segment_members (
    site        TEXT NOT NULL,
    segment     TEXT NOT NULL,
    anon        TEXT NOT NULL,
    -- The shopper's sampling bucket (as in rollup_profiles), so a refresh
    -- reads members and profiles a few buckets at a time.
    bucket      INTEGER NOT NULL,
    entered_ms  BIGINT NOT NULL,
    PRIMARY KEY (site, segment, anon)
);
CREATE INDEX segment_members_bucket ON segment_members (site, segment, bucket);

CREATE TABLE segment_days (
    site     TEXT NOT NULL,
    segment  TEXT NOT NULL,
    day      BIGINT NOT NULL,
    entered  BIGINT NOT NULL DEFAULT 0,
    exited   BIGINT NOT NULL DEFAULT 0,
    -- Members at the day's last refresh.
    members  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site, segment, day)
);
