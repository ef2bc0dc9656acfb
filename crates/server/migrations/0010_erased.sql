-- Ids erased by their shopper or an admin, kept as SHA-256 hashes (not the
-- ids themselves): events for them are refused, so a batch that was still
-- on its way, or an outbox in another tab, cannot bring erased data back.
CREATE TABLE erased (
    site       TEXT NOT NULL REFERENCES sites(id),
    anon_hash  TEXT NOT NULL,
    erased_ms  BIGINT NOT NULL,
    PRIMARY KEY (site, anon_hash)
);
