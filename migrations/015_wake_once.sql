-- A writer leaves a wake row (and a notification) only for an endpoint
-- that has neither a lane nor a wake row already: one committed wake
-- brings a lane for the endpoint, which then serves all its work, so a
-- second is redundant. Without this, every one-event transaction to an
-- endpoint whose wake no dispatcher had admitted yet notified again, and
-- notifying transactions commit one at a time (PostgreSQL serializes
-- their commits on the notification queue's lock).
--
-- It is safe for the reason the lane check is: the shared lock on the
-- endpoint's lane bucket, held to commit, keeps the lane that a wake
-- becomes from being dropped until the writer's work is visible, and the
-- wake seen is either still there (and will be admitted) or was admitted
-- with its lane created in the same transaction.
CREATE INDEX lane_wakes_endpoint ON hookd.lane_wakes (endpoint_id);

-- Volatile, so its queries take a fresh snapshot after the lock is
-- granted (see 011_lane_wakes.sql). hookd.lane_missing stays for
-- processes still running the previous version.
CREATE FUNCTION hookd.needs_wake(endpoint text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(26732, hashtext(endpoint) & 1023);
  RETURN NOT EXISTS (SELECT 1 FROM hookd.lanes WHERE endpoint_id = endpoint)
     AND NOT EXISTS (SELECT 1 FROM hookd.lane_wakes WHERE endpoint_id = endpoint);
END
$$;
