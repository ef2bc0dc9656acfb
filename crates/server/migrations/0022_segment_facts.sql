-- What segments read of each shopper, beside the rolled-up profile: the
-- engine's compact binary form of it (`Profile::segment_form`), a fraction
-- of the JSON profile's bytes and kept in the order of the shoppers' ids,
-- so a refresh walks a site's shoppers in one ordered pass.
CREATE TABLE segment_facts (
    site  TEXT NOT NULL,
    anon  TEXT NOT NULL,
    facts BLOB NOT NULL,
    PRIMARY KEY (site, anon)
) WITHOUT ROWID;

-- Every shopper with a profile is rolled up again, which writes their facts
-- (segments wait until every profile has them, see `segments::refresh_site`).
INSERT INTO rollup_pending (site, anon, marked)
SELECT site, anon, 0 FROM rollup_profiles WHERE true
ON CONFLICT (site, anon) DO NOTHING;

-- Members kept in the order of their ids within each segment (no sampling
-- bucket any more): a refresh reads and changes them in the same ordered
-- pass, and a first fill appends instead of writing all over the table.
CREATE TABLE segment_members_by_id (
    site        TEXT NOT NULL,
    segment     TEXT NOT NULL,
    anon        TEXT NOT NULL,
    entered_ms  BIGINT NOT NULL,
    PRIMARY KEY (site, segment, anon)
) WITHOUT ROWID;
INSERT INTO segment_members_by_id (site, segment, anon, entered_ms)
SELECT site, segment, anon, entered_ms FROM segment_members;
DROP TABLE segment_members;
ALTER TABLE segment_members_by_id RENAME TO segment_members;
