-- What the dashboard reads, kept per shopper from their raw events (still
-- the source of truth) by a background job: results, insights and reach
-- then cost what shoppers and days cost, not what events cost.

-- One shopper's activity in one campaign variant (variant '' for a
-- holdout, campaign '' for the global holdout) on one UTC day.
CREATE TABLE rollup_touches (
    site        TEXT NOT NULL REFERENCES sites(id),
    anon        TEXT NOT NULL,
    campaign    TEXT NOT NULL,
    variant     TEXT NOT NULL,
    day         BIGINT NOT NULL,
    entered_ms  BIGINT,
    bought_ms   BIGINT,
    exposures   BIGINT NOT NULL,
    clicks      BIGINT NOT NULL,
    dismissals  BIGINT NOT NULL,
    claims      BIGINT NOT NULL,
    conversions BIGINT NOT NULL,
    revenue     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (site, anon, campaign, variant, day)
);
CREATE INDEX rollup_touches_by_day ON rollup_touches (site, day);

-- One shopper's UTC day: the lifecycle stage it ended in, offers seen.
CREATE TABLE rollup_days (
    site   TEXT NOT NULL REFERENCES sites(id),
    anon   TEXT NOT NULL,
    day    BIGINT NOT NULL,
    stage  TEXT NOT NULL,
    offers BIGINT NOT NULL,
    PRIMARY KEY (site, anon, day)
);
CREATE INDEX rollup_days_by_day ON rollup_days (site, day, stage, offers);

-- Per site and day, what results and insights read, summed over shoppers
-- and kept in step with each shopper's touches and days (see
-- `rollups::counts`): `kind` names the count, `a` and `b` what it counts
-- (campaign and variant, or a stage), `n` the count and `x` a sum of
-- money. Counts of distinct shoppers are kept so that summing the days of
-- any window gives that window's count.
CREATE TABLE rollup_counts (
    site TEXT NOT NULL REFERENCES sites(id),
    day  BIGINT NOT NULL,
    kind TEXT NOT NULL,
    a    TEXT NOT NULL,
    b    TEXT NOT NULL,
    n    BIGINT NOT NULL,
    x    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (site, day, kind, a, b)
);

-- The attribution window the counts of a site were made with.
CREATE TABLE rollup_sites (
    site      TEXT PRIMARY KEY REFERENCES sites(id),
    window_ms BIGINT NOT NULL
);

-- One shopper's profile as the engine builds it from their events;
-- `bucket` (0-1023, from a hash of the id) draws uniform samples.
CREATE TABLE rollup_profiles (
    site    TEXT NOT NULL REFERENCES sites(id),
    anon    TEXT NOT NULL,
    last_ms BIGINT NOT NULL,
    bucket  BIGINT NOT NULL,
    profile TEXT NOT NULL,
    PRIMARY KEY (site, anon)
);
CREATE INDEX rollup_profiles_by_last ON rollup_profiles (site, last_ms);
CREATE INDEX rollup_profiles_by_bucket ON rollup_profiles (site, bucket, last_ms);

-- Shoppers whose events changed since their rollups were made; `marked`
-- grows with each change, so a change made while the job works is seen.
CREATE TABLE rollup_pending (
    site   TEXT NOT NULL REFERENCES sites(id),
    anon   TEXT NOT NULL,
    marked BIGINT NOT NULL,
    PRIMARY KEY (site, anon)
);

-- Events stored before this migration: each of their shoppers once.
INSERT INTO rollup_pending (site, anon, marked)
SELECT DISTINCT site, anon, 0 FROM events WHERE anon <> '';
