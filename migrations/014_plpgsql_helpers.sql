-- The two functions every publish calls, rewritten in PL/pgSQL with the
-- same results. A LANGUAGE sql function that cannot be inlined is parsed
-- and planned again in every statement that calls it; PL/pgSQL keeps its
-- plans for the session. Publishing one event spent about 40 % of its
-- database time there.

CREATE OR REPLACE FUNCTION hookd.type_patterns(t text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  parts    text[] := string_to_array(t, '.');
  patterns text[] := ARRAY[t, '*'];
BEGIN
  FOR n IN 1 .. cardinality(parts) - 1 LOOP
    patterns := patterns || (array_to_string(parts[1:n], '.') || '.*');
  END LOOP;
  RETURN patterns;
END
$$;

-- Volatile, so its query takes a fresh snapshot after the lock is granted
-- (see 011_lane_wakes.sql).
CREATE OR REPLACE FUNCTION hookd.lane_missing(endpoint text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(26732, hashtext(endpoint) & 1023);
  RETURN NOT EXISTS (SELECT 1 FROM hookd.lanes WHERE endpoint_id = endpoint);
END
$$;
