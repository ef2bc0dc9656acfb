-- Raw events partitioned by the month of their time (UTC), so the
-- retention drops whole months instead of deleting rows one by one. A
-- partitioned table's unique key includes the partition key: an event is
-- stored once per (site, id, ts), which a retried batch (the same events,
-- the same times) still is.
ALTER TABLE events RENAME TO events_before_partitions;
ALTER INDEX events_by_anon RENAME TO events_before_partitions_by_anon;
ALTER INDEX events_by_type RENAME TO events_before_partitions_by_type;

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
    answer      BIGINT,
    PRIMARY KEY (site, id, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX events_by_anon ON events (site, anon);
CREATE INDEX events_by_type ON events (site, type, ts);

-- Times outside the monthly partitions (older than two years, or far
-- ahead) land here.
CREATE TABLE events_other PARTITION OF events DEFAULT;

-- One partition per month from the oldest event (at most two years back)
-- to two months ahead; the server keeps creating the months ahead.
DO $$
DECLARE
    oldest BIGINT := GREATEST(
        COALESCE((SELECT MIN(ts) FROM events_before_partitions), 0),
        ((EXTRACT(EPOCH FROM now()) - 730 * 86400) * 1000)::BIGINT);
    month TIMESTAMP := date_trunc('month', to_timestamp(oldest / 1000.0) AT TIME ZONE 'UTC');
    last TIMESTAMP := date_trunc('month', now() AT TIME ZONE 'UTC') + INTERVAL '2 months';
BEGIN
    WHILE month <= last LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%s) TO (%s)',
            'events_' || to_char(month, 'YYYY_MM'),
            (EXTRACT(EPOCH FROM month) * 1000)::BIGINT,
            (EXTRACT(EPOCH FROM month + INTERVAL '1 month') * 1000)::BIGINT);
        month := month + INTERVAL '1 month';
    END LOOP;
END $$;

INSERT INTO events (site, id, type, ts, anon, campaign, variant, item, category, price, received_ms, answer)
SELECT site, id, type, ts, anon, campaign, variant, item, category, price, received_ms, answer
FROM events_before_partitions;
DROP TABLE events_before_partitions;
