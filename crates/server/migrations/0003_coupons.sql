-- Coupons: codes issued to pseudonymous ids within each campaign's budget,
-- redeemed once by the shop's checkout with the site's redeem key.
ALTER TABLE sites ADD COLUMN redeem_key_hash TEXT;

CREATE TABLE coupon_budgets (
    site     TEXT NOT NULL REFERENCES sites(id),
    campaign TEXT NOT NULL,
    issued   BIGINT NOT NULL,
    PRIMARY KEY (site, campaign)
);

CREATE TABLE coupons (
    site        TEXT NOT NULL REFERENCES sites(id),
    code        TEXT NOT NULL,
    campaign    TEXT NOT NULL,
    variant     TEXT NOT NULL,
    anon        TEXT NOT NULL,
    claimed_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    redeemed_ms BIGINT,
    PRIMARY KEY (site, code),
    UNIQUE (site, campaign, anon)
);
