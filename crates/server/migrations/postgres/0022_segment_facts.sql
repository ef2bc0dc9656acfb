-- What segments read of each shopper, beside the rolled-up profile: the
-- engine's compact binary form of it (`Profile::segment_form`), a fraction
-- of the JSON profile's bytes, read in the order of the shoppers' ids.
CREATE TABLE segment_facts (
    site  TEXT NOT NULL,
    anon  TEXT NOT NULL,
    facts BYTEA NOT NULL,
    PRIMARY KEY (site, anon)
);

-- Every shopper with a profile is rolled up again, which writes their facts
-- (segments wait until every profile has them, see `segments::refresh_site`).
INSERT INTO rollup_pending (site, anon, marked)
SELECT site, anon, 0 FROM rollup_profiles WHERE true
ON CONFLICT (site, anon) DO NOTHING;

-- Members are read and changed in the order of their ids (the primary
-- key); the sampling bucket is no longer used.
DROP INDEX segment_members_bucket;
ALTER TABLE segment_members DROP COLUMN bucket;
