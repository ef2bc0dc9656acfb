-- A segment's members as runs: one row per stretch of shopper ids (those
-- after `after_anon`, up to where the segment's next run starts) holding
-- that stretch's members in id order, a line `{anon} {entered_ms}` each,
-- and the last of them (`last_anon`), so a run is read only where it can
-- hold the ids asked for. A
-- refresh writes each range of shoppers it works through as one run, so a
-- first fill of a million members writes hundreds of rows, not a million.
CREATE TABLE segment_runs (
    site        TEXT NOT NULL,
    segment     TEXT NOT NULL,
    after_anon  TEXT NOT NULL,
    last_anon   TEXT NOT NULL,
    packed      TEXT NOT NULL,
    PRIMARY KEY (site, segment, after_anon)
) WITHOUT ROWID;

-- Today's members, 16,384 to a run; the next refresh splits them by its
-- own ranges.
INSERT INTO segment_runs (site, segment, after_anon, last_anon, packed)
SELECT site, segment,
       COALESCE(LAG(last) OVER (PARTITION BY site, segment ORDER BY run), ''),
       last, packed
FROM (
    SELECT site, segment, run, MAX(anon) AS last,
           group_concat(anon || ' ' || entered_ms, char(10) ORDER BY anon) AS packed
    FROM (
        SELECT site, segment, anon, entered_ms,
               (ROW_NUMBER() OVER (PARTITION BY site, segment ORDER BY anon) - 1) / 16384 AS run
        FROM segment_members
    ) AS numbered
    GROUP BY site, segment, run
) AS grouped;

DROP TABLE segment_members;
