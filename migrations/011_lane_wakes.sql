-- Writers no longer create lanes inside their own transactions. A
-- producer's transaction can be long and can publish to many endpoints in
-- any order; two of them inserting the same missing lane waited for each
-- other's commit, and in opposite orders they deadlocked. Now a writer
-- that makes work due for an endpoint without a lane leaves a wake row (a
-- plain insert that never waits on anyone) and a notification; a
-- dispatcher turns wake rows into lanes in a short statement of its own.
CREATE TABLE hookd.lane_wakes (
  endpoint_id  text NOT NULL
);

-- hookd.lane_missing(endpoint) tells a writer whether it must leave a wake
-- row for the endpoint. It first takes the shared lock on the endpoint's
-- lane bucket, which a claimer needs exclusively to drop a lane, and then
-- looks, in a query of its own: a volatile function's query takes a fresh
-- snapshot, so it sees a lane dropped while the writer's statement ran.
-- Holding the lock to commit keeps the lane it saw from being dropped
-- before the writer's work is visible. The lock keys match
-- core/delivery's laneLockClass and laneBucket.
CREATE FUNCTION hookd.lane_missing(endpoint text) RETURNS boolean
LANGUAGE sql VOLATILE AS $$
  SELECT pg_advisory_xact_lock_shared(26732, hashtext(endpoint) & 1023);
  SELECT NOT EXISTS (SELECT 1 FROM hookd.lanes WHERE endpoint_id = endpoint);
$$;
