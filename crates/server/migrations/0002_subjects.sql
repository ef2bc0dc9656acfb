-- The erase key of each pseudonymous id, registered on first sight: only the
-- browser holding the key (or an admin) may erase the id's data.
CREATE TABLE subjects (
    site       TEXT NOT NULL REFERENCES sites(id),
    anon       TEXT NOT NULL,
    key_hash   TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (site, anon)
);
