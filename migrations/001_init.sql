-- hookd schema: endpoints, the event outbox, deliveries, attempts, intake.

-- Does an endpoint's event-type filter accept type t?
-- An empty filter or '*' accepts everything; 'payment.*' accepts every type
-- starting with 'payment.'; anything else must match exactly.
CREATE FUNCTION hookd.type_matches(filters text[], t text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT cardinality(filters) = 0 OR EXISTS (
    SELECT 1 FROM unnest(filters) AS f
    WHERE f = '*'
       OR f = t
       OR (right(f, 2) = '.*' AND left(t, length(f) - 1) = left(f, length(f) - 1))
  )
$$;

CREATE TABLE hookd.endpoints (
  id                          text PRIMARY KEY,
  -- webhook: receives published events matching its filter;
  -- forward: an intake source's internal target; alert: the operator's alert URL.
  kind                        text NOT NULL DEFAULT 'webhook'
                              CHECK (kind IN ('webhook', 'forward', 'alert')),
  url                         text NOT NULL,
  description                 text NOT NULL DEFAULT '',
  event_types                 text[] NOT NULL DEFAULT '{}',
  secret                      text NOT NULL,
  previous_secret             text,
  previous_secret_expires_at  timestamptz,
  enabled                     boolean NOT NULL DEFAULT true,
  disabled_reason             text NOT NULL DEFAULT '',
  disabled_at                 timestamptz,
  headers                     jsonb NOT NULL DEFAULT '{}',
  rate_limit                  integer NOT NULL DEFAULT 0 CHECK (rate_limit >= 0),     -- requests/s, 0 = unlimited
  max_in_flight               integer NOT NULL DEFAULT 0 CHECK (max_in_flight >= 0),  -- 0 = delivery.max_in_flight_per_endpoint
  timeout_ms                  integer NOT NULL DEFAULT 0 CHECK (timeout_ms >= 0),     -- 0 = delivery.timeout
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX endpoints_fanout ON hookd.endpoints (created_at) WHERE enabled AND kind = 'webhook';

-- The outbox. Insert-only. xid is the inserting transaction's id: the feed
-- orders by (xid, seq) and only serves transactions older than every running
-- one, so a long transaction that commits late is never skipped.
CREATE TABLE hookd.events (
  seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  id           text PRIMARY KEY,
  type         text NOT NULL,
  data         json NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  xid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
  -- set when deliveries were created for every matching endpoint; rows
  -- inserted by other means (raw SQL producers, interrupted fan-out) are
  -- completed by the fan-out service.
  fanned_out   boolean NOT NULL DEFAULT false,
  -- a directed event goes only to this endpoint (intake forwarding, alerts).
  endpoint_id  text REFERENCES hookd.endpoints (id) ON DELETE CASCADE
);
CREATE INDEX events_feed ON hookd.events (xid, seq);
CREATE INDEX events_unfanned ON hookd.events (seq) WHERE NOT fanned_out;
CREATE INDEX events_created ON hookd.events (created_at);
CREATE INDEX events_type ON hookd.events (type, seq);

-- One delivery per (event, endpoint). States:
--   pending (due at next_attempt_at) -> in_flight (leased) -> succeeded | pending | dead
--   held: the endpoint is disabled; resumed as pending when it is enabled again.
CREATE TABLE hookd.deliveries (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id          text NOT NULL REFERENCES hookd.events (id) ON DELETE CASCADE,
  endpoint_id       text NOT NULL REFERENCES hookd.endpoints (id) ON DELETE CASCADE,
  event_type        text NOT NULL,
  state             text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'in_flight', 'succeeded', 'dead', 'held')),
  attempts          integer NOT NULL DEFAULT 0,  -- attempts in the current retry budget
  next_attempt_at   timestamptz NOT NULL DEFAULT now(),
  lease_expires_at  timestamptz,
  leased_by         text,
  last_status       integer,
  last_error_class  text NOT NULL DEFAULT '',
  last_error        text NOT NULL DEFAULT '',
  replays           integer NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  completed_at      timestamptz,               -- when it succeeded or died
  UNIQUE (event_id, endpoint_id)
);
-- The dispatcher's claim: due, undelivered work only.
CREATE INDEX deliveries_due ON hookd.deliveries (next_attempt_at) WHERE state = 'pending';
-- The lease reaper.
CREATE INDEX deliveries_leased ON hookd.deliveries (lease_expires_at) WHERE state = 'in_flight';
CREATE INDEX deliveries_endpoint_state ON hookd.deliveries (endpoint_id, state, id);
CREATE INDEX deliveries_state ON hookd.deliveries (state, id);
CREATE INDEX deliveries_type ON hookd.deliveries (event_type, id);

-- Every try, insert-only.
CREATE TABLE hookd.attempts (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id       bigint NOT NULL REFERENCES hookd.deliveries (id) ON DELETE CASCADE,
  endpoint_id       text NOT NULL,
  attempt           integer NOT NULL,
  started_at        timestamptz NOT NULL,
  duration_us       bigint NOT NULL DEFAULT 0,
  request_url       text NOT NULL DEFAULT '',
  request_headers   jsonb NOT NULL DEFAULT '{}',
  response_status   integer,
  response_headers  jsonb,
  response_body     text NOT NULL DEFAULT '',
  -- '' for success; timeout, connect, dns, tls, blocked, http_status, interrupted
  error_class       text NOT NULL DEFAULT '',
  error             text NOT NULL DEFAULT '',
  worker            text NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery ON hookd.attempts (delivery_id, id);
CREATE INDEX attempts_endpoint ON hookd.attempts (endpoint_id, started_at);

-- Per-endpoint health, kept up to date by the dispatcher in batches.
CREATE TABLE hookd.endpoint_health (
  endpoint_id           text PRIMARY KEY REFERENCES hookd.endpoints (id) ON DELETE CASCADE,
  consecutive_failures  integer NOT NULL DEFAULT 0,
  last_status           integer,
  last_success_at       timestamptz,
  last_failure_at       timestamptz,
  failing_since         timestamptz,  -- first failure after the last success
  updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Per-endpoint, per-minute rollup: rates, success ratio and latency
-- percentiles without scanning attempts. latency_buckets counts attempts
-- whose duration is <= the bucket bounds defined in core/health.
CREATE TABLE hookd.endpoint_minutes (
  endpoint_id      text NOT NULL REFERENCES hookd.endpoints (id) ON DELETE CASCADE,
  minute           timestamptz NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  successes        integer NOT NULL DEFAULT 0,
  latency_buckets  integer[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (endpoint_id, minute)
);
CREATE INDEX endpoint_minutes_minute ON hookd.endpoint_minutes (minute);

-- Intake sources managed through the API and CLI; config sources are
-- synced here at start.
CREATE TABLE hookd.sources (
  name          text PRIMARY KEY,
  scheme        text NOT NULL CHECK (scheme IN ('hookd', 'standard', 'stripe', 'github')),
  secrets       text[] NOT NULL,
  tolerance_ms  bigint NOT NULL DEFAULT 300000,
  forward_to    text NOT NULL DEFAULT '',
  from_config   boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Intake events, unique on (source, event id).
CREATE TABLE hookd.inbox (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source           text NOT NULL,
  event_id         text NOT NULL,
  event_type       text NOT NULL DEFAULT '',
  received_at      timestamptz NOT NULL DEFAULT now(),
  headers          jsonb NOT NULL DEFAULT '{}',
  body             bytea NOT NULL,
  verification     text NOT NULL DEFAULT '',
  -- pending: waiting for a consumer; processed; forwarded (handed to the
  -- delivery engine); dead: processing failed max_process_attempts times.
  state            text NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'processed', 'forwarded', 'dead')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text NOT NULL DEFAULT '',
  duplicates       integer NOT NULL DEFAULT 0,
  processed_at     timestamptz,
  UNIQUE (source, event_id)
);
CREATE INDEX inbox_due ON hookd.inbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX inbox_source ON hookd.inbox (source, id);
CREATE INDEX inbox_state ON hookd.inbox (state, id);

-- Intake counters per source and minute (rejected requests store nothing
-- in the inbox but must still be visible).
CREATE TABLE hookd.intake_minutes (
  source      text NOT NULL,
  minute      timestamptz NOT NULL,
  accepted    integer NOT NULL DEFAULT 0,
  duplicates  integer NOT NULL DEFAULT 0,
  rejected    integer NOT NULL DEFAULT 0,
  PRIMARY KEY (source, minute)
);

-- Alert coalescing: one row per (endpoint, kind) with what is waiting to be
-- told and when it was last told.
CREATE TABLE hookd.alert_state (
  endpoint_id     text NOT NULL,
  kind            text NOT NULL,
  pending_count   integer NOT NULL DEFAULT 0,
  first_event_id  text NOT NULL DEFAULT '',
  last_event_id   text NOT NULL DEFAULT '',
  first_at        timestamptz,
  last_sent_at    timestamptz,
  PRIMARY KEY (endpoint_id, kind)
);
