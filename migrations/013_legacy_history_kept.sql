-- The legacy partitions (the tables from before schema 5, attached with a
-- range ending 1970-01-02) hold rows stored up to the upgrade: they are
-- kept for retention.period from then, not dropped by the first
-- retention run after the upgrade. rows_until is when the newest row of
-- a partition was stored, where that is later than its upper bound.
ALTER TABLE hookd.partitions ADD COLUMN rows_until timestamptz;
UPDATE hookd.partitions SET rows_until = now() WHERE name LIKE '%\_legacy' ESCAPE '\';
