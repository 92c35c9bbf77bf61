-- hookd.needs_wake for a set of endpoints at once: a writer that makes
-- work due for many endpoints (a tenant's, a broadcast's) called the
-- PL/pgSQL function once per endpoint, about 30 µs each, most of a fan-out
-- publish's time. This takes the shared lock on every endpoint's lane
-- bucket in one statement, in bucket order, and then, in a statement of
-- its own whose fresh snapshot is taken after every lock was granted (it
-- is volatile: see 011_lane_wakes.sql), returns the endpoints that have
-- neither a lane nor a wake row. The locks and what they guard are those
-- of hookd.needs_wake, which stays for processes still running the
-- previous version.
--
-- At REPEATABLE READ or SERIALIZABLE a statement sees the transaction's
-- snapshot, not a fresh one: a lane dropped after it was taken still
-- looks present, and the work would wait for the maintenance sweep. There
-- every endpoint gets a wake (an admitted wake for an endpoint with a
-- lane changes nothing).
CREATE FUNCTION hookd.needing_wakes(endpoints text[]) RETURNS SETOF text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF cardinality(endpoints) = 0 THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock_shared(26732, b)
  FROM (SELECT DISTINCT hashtext(e) & 1023 AS b FROM unnest(endpoints) AS e ORDER BY 1) buckets;
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RETURN QUERY SELECT DISTINCT e FROM unnest(endpoints) AS e;
    RETURN;
  END IF;
  RETURN QUERY
    SELECT DISTINCT e FROM unnest(endpoints) AS e
    WHERE NOT EXISTS (SELECT 1 FROM hookd.lanes WHERE endpoint_id = e)
      AND NOT EXISTS (SELECT 1 FROM hookd.lane_wakes WHERE endpoint_id = e);
END
$$;
