-- hookd schema 2: tenants, a work queue for unfinished deliveries, lanes
-- for fair claiming, and time-partitioned history (events, finished
-- deliveries, attempts) that leaves by partition drop.
--
-- Existing data is kept without copying history: the old events,
-- deliveries and attempts tables become the legacy partitions of the new
-- ones (see below), so the upgrade costs building the new indexes over
-- them and moving what still has work to do into the queue.
--
-- Partitions are created by core/partition (hookd migrate and every start
-- make sure those around now exist; the maintenance leader keeps them
-- ahead and drops expired ones). This migration creates the first one
-- itself so that the copy has somewhere to go.

-- Tenants: the producer's customers. Endpoints and events belong to one
-- tenant or to none.
CREATE TABLE hookd.tenants (
  id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._:-]{1,128}$'),
  name        text NOT NULL DEFAULT '',
  metadata    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Tenant tokens: customer-facing API keys scoped to one tenant, stored
-- only as a SHA-256 of the token.
CREATE TABLE hookd.tenant_tokens (
  id            text PRIMARY KEY,
  tenant_id     text NOT NULL REFERENCES hookd.tenants (id),
  name          text NOT NULL DEFAULT '',
  token_sha256  bytea NOT NULL UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  last_used_at  timestamptz
);
CREATE INDEX tenant_tokens_tenant ON hookd.tenant_tokens (tenant_id, created_at);

ALTER TABLE hookd.endpoints
  ADD COLUMN tenant_id text REFERENCES hookd.tenants (id),
  -- fifo: one delivery at a time, in publish order.
  ADD COLUMN ordering text NOT NULL DEFAULT 'concurrent' CHECK (ordering IN ('concurrent', 'fifo')),
  -- event_types as fan-out matches it: an empty filter means every type.
  ADD COLUMN match_types text[] GENERATED ALWAYS AS
    (CASE WHEN cardinality(event_types) = 0 THEN ARRAY['*'] ELSE event_types END) STORED;

-- The filter entries an event type matches: itself, every "prefix.*" of
-- it and "*". Fan-out finds endpoints whose match_types overlap these.
CREATE FUNCTION hookd.type_patterns(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT ARRAY[t, '*'] || coalesce((
    SELECT array_agg(array_to_string(parts[1:n], '.') || '.*' ORDER BY n)
    FROM (SELECT string_to_array(t, '.') AS parts) p, generate_series(1, cardinality(parts) - 1) AS n
  ), '{}')
$$;

-- Fan-out looks endpoints up by index, never by evaluating every filter:
-- a tenant's endpoints by tenant; tenant-less and broadcast events by the
-- patterns an event type can match (itself, each prefix.* and *).
DROP INDEX hookd.endpoints_fanout;
CREATE INDEX endpoints_tenant ON hookd.endpoints (tenant_id) WHERE kind = 'webhook' AND enabled;
CREATE INDEX endpoints_types_untenanted ON hookd.endpoints USING gin (match_types)
  WHERE tenant_id IS NULL AND kind = 'webhook' AND enabled;
CREATE INDEX endpoints_types ON hookd.endpoints USING gin (match_types) WHERE kind = 'webhook' AND enabled;
CREATE INDEX endpoints_tenant_all ON hookd.endpoints (tenant_id, created_at, id) WHERE tenant_id IS NOT NULL;

-- The breaker: after delivery.breaker_failures consecutive failures an
-- endpoint is probed once per interval instead of sent its backlog.
ALTER TABLE hookd.endpoint_health
  ADD COLUMN breaker_opened_at timestamptz,
  ADD COLUMN breaker_probe_at  timestamptz,
  ADD COLUMN breaker_probes    integer NOT NULL DEFAULT 0;
CREATE INDEX endpoint_health_breaker_open ON hookd.endpoint_health (endpoint_id) WHERE breaker_opened_at IS NOT NULL;

-- The old tables give way to the new ones; their data is copied below.
ALTER TABLE hookd.attempts RENAME TO attempts_v1;
ALTER TABLE hookd.deliveries RENAME TO deliveries_v1;
ALTER TABLE hookd.events RENAME TO events_v1;
ALTER INDEX hookd.events_pkey RENAME TO events_v1_pkey;
ALTER INDEX hookd.events_feed RENAME TO events_v1_feed;
ALTER INDEX hookd.events_type RENAME TO events_v1_type;
ALTER INDEX hookd.events_created RENAME TO events_v1_created;
ALTER INDEX hookd.events_unfanned RENAME TO events_v1_unfanned;
ALTER INDEX hookd.deliveries_pkey RENAME TO deliveries_v1_pkey;
ALTER INDEX hookd.deliveries_state RENAME TO deliveries_v1_state;
ALTER INDEX hookd.deliveries_type RENAME TO deliveries_v1_type;
ALTER INDEX hookd.attempts_pkey RENAME TO attempts_v1_pkey;
ALTER INDEX hookd.attempts_delivery RENAME TO attempts_v1_delivery;

CREATE SEQUENCE hookd.event_seq;
CREATE SEQUENCE hookd.delivery_ids;
CREATE SEQUENCE hookd.attempt_ids;
SELECT setval('hookd.event_seq', max(seq)) FROM hookd.events_v1 HAVING max(seq) IS NOT NULL;
SELECT setval('hookd.delivery_ids', max(id)) FROM hookd.deliveries_v1 HAVING max(id) IS NOT NULL;
SELECT setval('hookd.attempt_ids', max(id)) FROM hookd.attempts_v1 HAVING max(id) IS NOT NULL;

-- Event ids, unique across the whole system for as long as an event can
-- be referred to (a unique index on the partitioned events table could
-- only be unique per partition). Rows older than retention.period leave in
-- small batches.
CREATE TABLE hookd.event_ids (
  id         text PRIMARY KEY,
  stored_at  timestamptz NOT NULL
);
CREATE INDEX event_ids_stored ON hookd.event_ids (stored_at);

-- The outbox, partitioned by stored_at: when the row was written (not
-- created, which the producer may set). Insert-only but for fanned_out.
CREATE TABLE hookd.events (
  seq          bigint NOT NULL DEFAULT nextval('hookd.event_seq'),
  id           text NOT NULL,
  type         text NOT NULL,
  data         json NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
               CHECK (created_at >= '1970-01-01 00:00:00Z' AND created_at <= '9999-12-31 23:59:59Z'),
  xid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
  fanned_out   boolean NOT NULL DEFAULT false,
  endpoint_id  text,           -- a directed event goes only to this endpoint
  tenant_id    text,           -- the tenant whose endpoints receive it
  broadcast    boolean NOT NULL DEFAULT false,  -- every tenant's matching endpoints
  stored_at    timestamptz NOT NULL DEFAULT statement_timestamp(),
  PRIMARY KEY (id, stored_at),
  CHECK (NOT (broadcast AND (tenant_id IS NOT NULL OR endpoint_id IS NOT NULL)))
) PARTITION BY RANGE (stored_at);
CREATE INDEX events_feed ON hookd.events (xid, seq) WHERE endpoint_id IS NULL;
CREATE INDEX events_tenant_feed ON hookd.events (tenant_id, xid, seq) WHERE tenant_id IS NOT NULL AND endpoint_id IS NULL;
CREATE INDEX events_broadcast_feed ON hookd.events (xid, seq) WHERE broadcast;
CREATE INDEX events_unfanned ON hookd.events (seq) WHERE NOT fanned_out;
CREATE INDEX events_stored ON hookd.events USING brin (stored_at);

-- Rows written by plain SQL producers (fanned_out false) claim their id
-- here too; a repeated id is dropped, as Publish drops it.
CREATE FUNCTION hookd.claim_event_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO hookd.event_ids (id, stored_at) VALUES (NEW.id, NEW.stored_at) ON CONFLICT (id) DO NOTHING;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER events_claim_id BEFORE INSERT ON hookd.events
  FOR EACH ROW WHEN (NOT NEW.fanned_out) EXECUTE FUNCTION hookd.claim_event_id();

-- Unfinished deliveries: the work queue. Small (only what is still to
-- do), not partitioned, and written by core/delivery alone. States:
--   pending    due now (a fifo endpoint's head may wait for next_attempt_at)
--   retrying   waiting out a backoff until next_attempt_at
--   in_flight  leased to a worker until lease_expires_at
--   held       its endpoint is disabled
-- A delivery leaves the queue into hookd.finished when it succeeds, dies
-- or is skipped.
CREATE TABLE hookd.queue (
  id                bigint PRIMARY KEY DEFAULT nextval('hookd.delivery_ids'),
  event_id          text NOT NULL,
  event_stored_at   timestamptz NOT NULL,
  endpoint_id       text NOT NULL,
  tenant_id         text,
  event_type        text NOT NULL,
  state             text NOT NULL CHECK (state IN ('pending', 'retrying', 'in_flight', 'held')),
  attempts          integer NOT NULL DEFAULT 0,  -- in the current retry budget
  next_attempt_at   timestamptz NOT NULL DEFAULT now(),
  lease_expires_at  timestamptz,
  leased_by         text,
  last_status       integer,
  last_error_class  text NOT NULL DEFAULT '',
  last_error        text NOT NULL DEFAULT '',
  replays           integer NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 80);
-- Claiming: an endpoint's due work in publish order.
CREATE INDEX queue_ready ON hookd.queue (endpoint_id, id) WHERE state = 'pending';
CREATE INDEX queue_retrying ON hookd.queue (next_attempt_at) WHERE state = 'retrying';
-- What is in flight, per endpoint (its free slots) and for the reaper,
-- which reads it whole: it holds no more than the workers' leases.
CREATE INDEX queue_in_flight ON hookd.queue (endpoint_id) WHERE state = 'in_flight';
CREATE INDEX queue_held ON hookd.queue (endpoint_id, id) WHERE state = 'held';
CREATE INDEX queue_event ON hookd.queue (event_id);
CREATE INDEX queue_tenant ON hookd.queue (tenant_id, id) WHERE tenant_id IS NOT NULL;
-- Per-endpoint counts of what waits (in flight is counted on the lane).
CREATE INDEX queue_retrying_endpoint ON hookd.queue (endpoint_id, id) WHERE state = 'retrying';

-- Lanes: one row per endpoint with due work in the queue. Claimers take
-- lanes whose ready_at has come, in ready_at order, so capacity goes round
-- the endpoints with due work; a lane's row lock keeps two claimers off
-- one endpoint, which is what makes max_in_flight and rate_limit hold
-- across processes. ready_at is 'infinity' while the endpoint is at its
-- cap (a finishing attempt wakes it).
CREATE TABLE hookd.lanes (
  endpoint_id   text PRIMARY KEY,
  ready_at      timestamptz NOT NULL DEFAULT now(),
  rate_next_at  timestamptz    -- the next free request slot under rate_limit
);
CREATE INDEX lanes_ready ON hookd.lanes (ready_at);

-- Finished deliveries (succeeded, dead, skipped), partitioned with their
-- event. Insert-only, except that a replay takes a delivery back into the
-- queue and an erasure deletes a tenant's rows.
CREATE TABLE hookd.finished (
  id                bigint NOT NULL,
  event_id          text NOT NULL,
  event_stored_at   timestamptz NOT NULL,
  endpoint_id       text NOT NULL,
  tenant_id         text,
  event_type        text NOT NULL,
  state             text NOT NULL CHECK (state IN ('succeeded', 'dead', 'skipped')),
  attempts          integer NOT NULL,
  last_status       integer,
  last_error_class  text NOT NULL DEFAULT '',
  last_error        text NOT NULL DEFAULT '',
  replays           integer NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL,
  completed_at      timestamptz NOT NULL,
  PRIMARY KEY (id, event_stored_at)
) PARTITION BY RANGE (event_stored_at);
CREATE INDEX finished_event ON hookd.finished (event_id);
CREATE INDEX finished_endpoint ON hookd.finished (endpoint_id, id);
CREATE INDEX finished_dead ON hookd.finished (endpoint_id, id) WHERE state = 'dead';
CREATE INDEX finished_dead_id ON hookd.finished (id) WHERE state = 'dead';
CREATE INDEX finished_tenant ON hookd.finished (tenant_id, id) WHERE tenant_id IS NOT NULL;

-- Every try, insert-only, partitioned with its event.
CREATE TABLE hookd.attempts (
  id                bigint NOT NULL DEFAULT nextval('hookd.attempt_ids'),
  delivery_id       bigint NOT NULL,
  event_stored_at   timestamptz NOT NULL,
  endpoint_id       text NOT NULL,
  attempt           integer NOT NULL,
  started_at        timestamptz NOT NULL,
  duration_us       bigint NOT NULL DEFAULT 0,
  request_url       text NOT NULL DEFAULT '',
  request_headers   jsonb NOT NULL DEFAULT '{}',
  response_status   integer,
  response_headers  jsonb,
  -- the response body is in hookd.attempt_bodies
  -- '' for success; timeout, connect, dns, tls, blocked, http_status, interrupted
  error_class       text NOT NULL DEFAULT '',
  error             text NOT NULL DEFAULT '',
  worker            text NOT NULL DEFAULT ''
) PARTITION BY RANGE (event_stored_at);
CREATE INDEX attempts_delivery ON hookd.attempts (delivery_id, id);

-- Response bodies, apart from their attempts so that they can leave
-- earlier (retention.attempt_bodies). Only non-empty bodies are kept.
CREATE TABLE hookd.attempt_bodies (
  attempt_id       bigint NOT NULL,
  event_stored_at  timestamptz NOT NULL,
  body             text NOT NULL,
  PRIMARY KEY (attempt_id, event_stored_at)
) PARTITION BY RANGE (event_stored_at);

-- Per-endpoint, per-minute rollups, partitioned by minute (a day each)
-- and dropped whole once older than their keep.
ALTER TABLE hookd.endpoint_minutes RENAME TO endpoint_minutes_v1;
ALTER INDEX hookd.endpoint_minutes_pkey RENAME TO endpoint_minutes_v1_pkey;
ALTER INDEX hookd.endpoint_minutes_minute RENAME TO endpoint_minutes_v1_minute;
CREATE TABLE hookd.endpoint_minutes (
  endpoint_id      text NOT NULL,
  minute           timestamptz NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  successes        integer NOT NULL DEFAULT 0,
  latency_buckets  integer[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (endpoint_id, minute)
) PARTITION BY RANGE (minute);

-- Every delivery, whether still to do or finished, for reading.
CREATE VIEW hookd.deliveries AS
  SELECT id, event_id, event_stored_at, endpoint_id, tenant_id, event_type, state, attempts, next_attempt_at,
         lease_expires_at, leased_by, last_status, last_error_class, last_error, replays,
         created_at, updated_at, NULL::timestamptz AS completed_at
  FROM hookd.queue
  UNION ALL
  SELECT id, event_id, event_stored_at, endpoint_id, tenant_id, event_type, state, attempts, completed_at,
         NULL, NULL, last_status, last_error_class, last_error, replays,
         created_at, completed_at, completed_at
  FROM hookd.finished;

-- The partitions of the partitioned tables, as core/partition made them.
CREATE TABLE hookd.partitions (
  name        text PRIMARY KEY,
  parent      text NOT NULL,
  lower_bound timestamptz NOT NULL,
  upper_bound timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (parent, lower_bound)
);

-- What retention last did: the newest feed position it dropped (so the
-- feed can say a cursor older than that skipped expired events) and when.
CREATE TABLE hookd.retention_state (
  one             boolean PRIMARY KEY DEFAULT true CHECK (one),
  dropped_xid     xid8,
  dropped_seq     bigint,
  dropped_before  timestamptz,
  last_run_at     timestamptz
);
INSERT INTO hookd.retention_state DEFAULT VALUES;

-- The first partitions, so that the data below has somewhere to go.
DO $$
DECLARE
  lo timestamptz := date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  hi timestamptz := lo + interval '1 day';
  suffix text := to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD_HH24MI');
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['events', 'finished', 'attempts', 'attempt_bodies', 'endpoint_minutes'] LOOP
    EXECUTE format('CREATE TABLE hookd.%I PARTITION OF hookd.%I FOR VALUES FROM (%L) TO (%L)',
      t || '_' || suffix, t, lo, hi);
    INSERT INTO hookd.partitions (name, parent, lower_bound, upper_bound) VALUES (t || '_' || suffix, t, lo, hi);
  END LOOP;
  EXECUTE format('ALTER TABLE hookd.%I SET (fillfactor = 100)', 'finished_' || suffix);
END $$;
CREATE TABLE hookd.attempt_bodies_legacy PARTITION OF hookd.attempt_bodies
  FOR VALUES FROM (MINVALUE) TO ('1970-01-02 00:00:00Z');

-- What exists is kept without copying history: the old tables become the
-- "legacy" partitions of the new ones, covering everything before the
-- first new partition, and leave whole, like any other, once they are
-- older than retention.period. Only what still has work to do moves to the
-- queue (and response bodies to their own table). Their rows all take
-- stored_at 1970-01-01, the legacy range's own.
DO $$
DECLARE
  t text;
  c record;
BEGIN
  -- Every key, foreign key and check of the old tables goes; the parents'
  -- are added back where a partition needs them.
  FOREACH t IN ARRAY ARRAY['attempts_v1', 'deliveries_v1', 'events_v1'] LOOP
    FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = ('hookd.' || t)::regclass AND contype IN ('f') LOOP
      EXECUTE format('ALTER TABLE hookd.%I DROP CONSTRAINT %I', t, c.conname);
    END LOOP;
  END LOOP;
  FOREACH t IN ARRAY ARRAY['attempts_v1', 'deliveries_v1', 'events_v1'] LOOP
    FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = ('hookd.' || t)::regclass LOOP
      EXECUTE format('ALTER TABLE hookd.%I DROP CONSTRAINT %I', t, c.conname);
    END LOOP;
    FOR c IN SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
             WHERE x.indrelid = ('hookd.' || t)::regclass AND i.relname <> 'attempts_v1_delivery' LOOP
      EXECUTE format('DROP INDEX hookd.%I', c.relname);
    END LOOP;
  END LOOP;
END $$;

-- Work still to do moves to the queue; its lanes are made below.
INSERT INTO hookd.queue (id, event_id, event_stored_at, endpoint_id, event_type, state, attempts, next_attempt_at,
    lease_expires_at, leased_by, last_status, last_error_class, last_error, replays, created_at, updated_at)
  SELECT d.id, d.event_id, '1970-01-01 00:00:00Z', d.endpoint_id, d.event_type,
         CASE WHEN d.state = 'pending' AND d.next_attempt_at > now() THEN 'retrying' ELSE d.state END,
         d.attempts, d.next_attempt_at, d.lease_expires_at, d.leased_by, d.last_status, d.last_error_class,
         d.last_error, d.replays, d.created_at, d.updated_at
  FROM hookd.deliveries_v1 d WHERE d.state IN ('pending', 'in_flight', 'held');
DELETE FROM hookd.deliveries_v1 WHERE state IN ('pending', 'in_flight', 'held');
UPDATE hookd.deliveries_v1 SET completed_at = updated_at WHERE completed_at IS NULL;
INSERT INTO hookd.attempt_bodies_legacy (attempt_id, event_stored_at, body)
  SELECT id, '1970-01-01 00:00:00Z', response_body FROM hookd.attempts_v1 WHERE response_body <> '';
INSERT INTO hookd.event_ids (id, stored_at) SELECT id, '1970-01-01 00:00:00Z' FROM hookd.events_v1;

-- The old tables take the new columns (constant defaults: no rewrite),
-- lose the ones gone, and take the parents' constraints, validated by a
-- scan that takes no lock beyond the one already held.
ALTER TABLE hookd.events_v1
  ALTER COLUMN seq DROP IDENTITY,
  ADD COLUMN tenant_id text,
  ADD COLUMN broadcast boolean NOT NULL DEFAULT false,
  ADD COLUMN stored_at timestamptz NOT NULL DEFAULT '1970-01-01 00:00:00Z',
  ALTER COLUMN created_at SET DEFAULT now(),
  ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
UPDATE hookd.events_v1 SET created_at = least(greatest(created_at, '1970-01-01 00:00:00Z'), '9999-12-31 23:59:59Z')
  WHERE created_at < '1970-01-01 00:00:00Z' OR created_at > '9999-12-31 23:59:59Z';
ALTER TABLE hookd.events_v1
  ADD CONSTRAINT events_created_at_check CHECK (created_at >= '1970-01-01 00:00:00Z' AND created_at <= '9999-12-31 23:59:59Z'),
  ADD CONSTRAINT events_check CHECK (NOT (broadcast AND (tenant_id IS NOT NULL OR endpoint_id IS NOT NULL))),
  ADD CONSTRAINT events_v1_range CHECK (stored_at < '1970-01-02 00:00:00Z');
ALTER TABLE hookd.deliveries_v1
  ALTER COLUMN id DROP IDENTITY,
  DROP COLUMN next_attempt_at, DROP COLUMN lease_expires_at, DROP COLUMN leased_by, DROP COLUMN updated_at,
  ADD COLUMN event_stored_at timestamptz NOT NULL DEFAULT '1970-01-01 00:00:00Z',
  ADD COLUMN tenant_id text,
  ALTER COLUMN completed_at SET NOT NULL,
  ALTER COLUMN state DROP DEFAULT,
  ALTER COLUMN attempts DROP DEFAULT,
  ALTER COLUMN created_at DROP DEFAULT,
  ADD CONSTRAINT finished_state_check CHECK (state IN ('succeeded', 'dead', 'skipped')),
  ADD CONSTRAINT deliveries_v1_range CHECK (event_stored_at < '1970-01-02 00:00:00Z');
ALTER TABLE hookd.attempts_v1
  ALTER COLUMN id DROP IDENTITY,
  DROP COLUMN response_body,
  ADD COLUMN event_stored_at timestamptz NOT NULL DEFAULT '1970-01-01 00:00:00Z',
  ADD CONSTRAINT attempts_v1_range CHECK (event_stored_at < '1970-01-02 00:00:00Z');

ALTER TABLE hookd.deliveries_v1 RENAME TO finished_legacy;
ALTER TABLE hookd.events_v1 RENAME TO events_legacy;
ALTER TABLE hookd.attempts_v1 RENAME TO attempts_legacy;
ALTER TABLE hookd.events ATTACH PARTITION hookd.events_legacy FOR VALUES FROM (MINVALUE) TO ('1970-01-02 00:00:00Z');
ALTER TABLE hookd.finished ATTACH PARTITION hookd.finished_legacy FOR VALUES FROM (MINVALUE) TO ('1970-01-02 00:00:00Z');
ALTER TABLE hookd.attempts ATTACH PARTITION hookd.attempts_legacy FOR VALUES FROM (MINVALUE) TO ('1970-01-02 00:00:00Z');
INSERT INTO hookd.partitions (name, parent, lower_bound, upper_bound)
  SELECT t || '_legacy', t, '1970-01-01 00:00:00Z', '1970-01-02 00:00:00Z'
  FROM unnest(ARRAY['events', 'finished', 'attempts', 'attempt_bodies']) AS t;
-- Events a plain SQL producer wrote without deliveries are fanned out by
-- hookd as before (they keep fanned_out false).

INSERT INTO hookd.endpoint_minutes SELECT * FROM hookd.endpoint_minutes_v1 WHERE minute >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
INSERT INTO hookd.lanes (endpoint_id)
  SELECT DISTINCT endpoint_id FROM hookd.queue WHERE state = 'pending';

DROP TABLE hookd.endpoint_minutes_v1;
DROP FUNCTION hookd.type_matches(text[], text);
