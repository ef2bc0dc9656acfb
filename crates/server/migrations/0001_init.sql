-- Sites, published config versions and stored events.
CREATE TABLE sites (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    allowed_origins TEXT NOT NULL DEFAULT '[]',
    created_ms      BIGINT NOT NULL
);

CREATE TABLE config_versions (
    site       TEXT NOT NULL REFERENCES sites(id),
    version    BIGINT NOT NULL,
    body       TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (site, version)
);

CREATE TABLE events (
    site        TEXT NOT NULL REFERENCES sites(id),
    id          TEXT NOT NULL,
    type        TEXT NOT NULL,
    ts          BIGINT NOT NULL,
    anon        TEXT NOT NULL,
    campaign    TEXT,
    variant     TEXT,
    item        TEXT,
    category    TEXT,
    price       DOUBLE PRECISION,
    received_ms BIGINT NOT NULL,
    PRIMARY KEY (site, id)
);

CREATE INDEX events_by_anon ON events (site, anon);
