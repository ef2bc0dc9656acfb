-- A site's recommendations model as last built: the published form the
-- widget reads (base64 text), when it was built, the catalog items it
-- publishes and the events it was built from.
CREATE TABLE recs_models (
    site     TEXT PRIMARY KEY REFERENCES sites(id),
    model    TEXT NOT NULL,
    built_ms BIGINT NOT NULL,
    items    BIGINT NOT NULL,
    events   BIGINT NOT NULL
);
