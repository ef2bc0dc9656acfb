-- PostgreSQL partitions its raw events by month here (see
-- postgres/0014_event_partitions.sql); SQLite keeps one table.
SELECT 1;
