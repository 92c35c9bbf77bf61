-- The audit trail: every action that changes state, taken from the
-- console, the CLI or the HTTP API, with who took it. Insert-only; written
-- by core/audit alone. It is not history of deliveries: retention leaves
-- it alone.
CREATE TABLE hookd.audit_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  -- who: ssh (key fingerprint), os (local user running the console),
  -- cli (user running a command), api (API key id), tenant (token id)
  actor_kind  text NOT NULL CHECK (actor_kind IN ('ssh', 'os', 'cli', 'api', 'tenant')),
  actor_id    text NOT NULL,
  actor_name  text NOT NULL DEFAULT '',  -- the SSH login or OS user, when known
  via         text NOT NULL CHECK (via IN ('console', 'cli', 'api')),
  action      text NOT NULL,
  target      text NOT NULL DEFAULT '',  -- a delivery or endpoint id, or a filter
  detail      text NOT NULL DEFAULT '',
  rows        bigint NOT NULL DEFAULT 0, -- how many rows the action changed
  outcome     text NOT NULL DEFAULT 'ok' CHECK (outcome IN ('ok', 'refused', 'failed')),
  error       text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_actor ON hookd.audit_log (actor_id, id);
CREATE INDEX audit_log_action ON hookd.audit_log (action, id);
