-- The shop's catalog: what recommendations may show. `feed_ms` is when the
-- last feed listing the item began; a whole feed marks the items it did
-- not list out of stock. `in_stock` is 1 or 0.
CREATE TABLE catalog_items (
    site       TEXT NOT NULL REFERENCES sites(id),
    item_id    TEXT NOT NULL,
    name       TEXT NOT NULL,
    url        TEXT,
    image      TEXT,
    price      DOUBLE PRECISION NOT NULL,
    sale_price DOUBLE PRECISION,
    category   TEXT,
    brand      TEXT,
    in_stock   BIGINT NOT NULL,
    feed_ms    BIGINT NOT NULL,
    PRIMARY KEY (site, item_id)
);

CREATE INDEX catalog_items_feed ON catalog_items (site, feed_ms);
