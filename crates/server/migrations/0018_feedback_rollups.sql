-- Feedback answers in the rollups: each shopper-day's answers to a feedback
-- question (comma-separated, 0-10), so results report their distribution,
-- mean and net promoter score. Every site's rollups are made again (its
-- stored window is forgotten) so answers given before count too.
ALTER TABLE rollup_touches ADD COLUMN answers TEXT NOT NULL DEFAULT '';
DELETE FROM rollup_sites;
