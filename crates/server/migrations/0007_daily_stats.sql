-- Daily counts per campaign, variant and event type: what results keep of
-- raw events once the site's retention has purged them.
CREATE TABLE daily_stats (
    site     TEXT NOT NULL REFERENCES sites(id),
    day      TEXT NOT NULL,
    campaign TEXT NOT NULL,
    variant  TEXT NOT NULL,
    kind     TEXT NOT NULL,
    n        BIGINT NOT NULL,
    revenue  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (site, day, campaign, variant, kind)
);
