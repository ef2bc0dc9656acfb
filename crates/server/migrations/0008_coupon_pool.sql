-- Codes a shop uploads for a coupon campaign (from its own shop system):
-- claims hand them out one each instead of generating codes.
CREATE TABLE coupon_pool (
    site     TEXT NOT NULL REFERENCES sites(id),
    campaign TEXT NOT NULL,
    code     TEXT NOT NULL,
    assigned BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site, code)
);

CREATE INDEX coupon_pool_free ON coupon_pool (site, campaign, assigned);
