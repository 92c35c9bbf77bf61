-- The per-minute rollups by minute, across endpoints: the console's
-- overview sums the last minutes of every endpoint (rates, success rate,
-- the endpoints failing now), which without it reads the whole day's
-- partition. Each partition gets its own index.
CREATE INDEX endpoint_minutes_minute ON hookd.endpoint_minutes (minute);
