-- An endpoint's minute may have up to four rows (shard 0-3), summed by
-- readers: the dispatcher records two batches at once, and with one row
-- per minute the second waited for the first's commit on a busy endpoint.
ALTER TABLE hookd.endpoint_minutes ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE hookd.endpoint_minutes DROP CONSTRAINT endpoint_minutes_pkey;
ALTER TABLE hookd.endpoint_minutes ADD PRIMARY KEY (endpoint_id, minute, shard);
