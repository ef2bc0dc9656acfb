-- Consented identity: a site's identity secret (its own server computes
-- each signed-in customer's proof with it; it never reaches a browser) and
-- which pseudonymous ids identified as which customer.
CREATE TABLE identity_secrets (
    site        TEXT PRIMARY KEY REFERENCES sites(id),
    secret      TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);

CREATE TABLE identities (
    site       TEXT NOT NULL,
    anon       TEXT NOT NULL,
    customer   TEXT NOT NULL,
    linked_ms  BIGINT NOT NULL,
    PRIMARY KEY (site, anon)
);
CREATE INDEX identities_customer ON identities (site, customer);
