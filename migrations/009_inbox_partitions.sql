-- Intake events and intake counters leave by partition drop, like the rest
-- of the history (see 005): the inbox is partitioned by stored_at with the
-- history's bounds, and its dedupe on (source, event id) moves to a table
-- of its own, since a unique index on a partitioned table holds only per
-- partition. Counters are partitioned by day. The old inbox becomes the
-- legacy partition; its rows take stored_at 1970-01-01.

CREATE TABLE hookd.inbox_ids (
  source      text NOT NULL,
  event_id    text NOT NULL,
  inbox_id    bigint NOT NULL,
  stored_at   timestamptz NOT NULL,
  PRIMARY KEY (source, event_id)
);
CREATE INDEX inbox_ids_stored ON hookd.inbox_ids (stored_at);

ALTER TABLE hookd.inbox RENAME TO inbox_legacy;
ALTER INDEX hookd.inbox_pkey RENAME TO inbox_legacy_pkey;
ALTER INDEX hookd.inbox_due RENAME TO inbox_legacy_due;
ALTER INDEX hookd.inbox_source RENAME TO inbox_legacy_source;
ALTER INDEX hookd.inbox_state RENAME TO inbox_legacy_state;
ALTER TABLE hookd.inbox_legacy DROP CONSTRAINT inbox_state_check;
CREATE SEQUENCE hookd.inbox_ids_seq;
SELECT setval('hookd.inbox_ids_seq', max(id)) FROM hookd.inbox_legacy HAVING max(id) IS NOT NULL;

CREATE TABLE hookd.inbox (
  id               bigint NOT NULL DEFAULT nextval('hookd.inbox_ids_seq'),
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
                   CONSTRAINT inbox_state_check CHECK (state IN ('pending', 'processed', 'forwarded', 'dead')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text NOT NULL DEFAULT '',
  duplicates       integer NOT NULL DEFAULT 0,
  processed_at     timestamptz,
  stored_at        timestamptz NOT NULL DEFAULT statement_timestamp(),
  PRIMARY KEY (id, stored_at)
) PARTITION BY RANGE (stored_at);
CREATE INDEX inbox_due ON hookd.inbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX inbox_source ON hookd.inbox (source, id);
CREATE INDEX inbox_state ON hookd.inbox (state, id) WHERE state IN ('pending', 'dead');

-- The old inbox's keys move to inbox_ids; its rows stay where they are.
INSERT INTO hookd.inbox_ids (source, event_id, inbox_id, stored_at)
  SELECT source, event_id, id, '1970-01-01 00:00:00Z' FROM hookd.inbox_legacy;
ALTER TABLE hookd.inbox_legacy ALTER COLUMN id DROP IDENTITY;
ALTER TABLE hookd.inbox_legacy DROP CONSTRAINT inbox_legacy_pkey;
ALTER TABLE hookd.inbox_legacy DROP CONSTRAINT inbox_source_event_id_key;
DROP INDEX hookd.inbox_legacy_due;
DROP INDEX hookd.inbox_legacy_source;
DROP INDEX hookd.inbox_legacy_state;
ALTER TABLE hookd.inbox_legacy
  ADD COLUMN stored_at timestamptz NOT NULL DEFAULT '1970-01-01 00:00:00Z',
  ADD CONSTRAINT inbox_state_check CHECK (state IN ('pending', 'processed', 'forwarded', 'dead')),
  ADD CONSTRAINT inbox_legacy_range CHECK (stored_at < '1970-01-02 00:00:00Z');
ALTER TABLE hookd.inbox ATTACH PARTITION hookd.inbox_legacy FOR VALUES FROM (MINVALUE) TO ('1970-01-02 00:00:00Z');
INSERT INTO hookd.partitions (name, parent, lower_bound, upper_bound)
  VALUES ('inbox_legacy', 'inbox', '1970-01-01 00:00:00Z', '1970-01-02 00:00:00Z');

-- The inbox's partitions follow the history's (core/partition makes them
-- for every history table); the first of them now.
DO $$
DECLARE
  p record;
BEGIN
  FOR p IN SELECT lower_bound, upper_bound FROM hookd.partitions WHERE parent = 'events' AND name <> 'events_legacy' LOOP
    EXECUTE format('CREATE TABLE hookd.%I PARTITION OF hookd.inbox FOR VALUES FROM (%L) TO (%L)',
      'inbox_' || to_char(p.lower_bound AT TIME ZONE 'UTC', 'YYYYMMDD_HH24MI'), p.lower_bound, p.upper_bound);
    INSERT INTO hookd.partitions (name, parent, lower_bound, upper_bound)
      VALUES ('inbox_' || to_char(p.lower_bound AT TIME ZONE 'UTC', 'YYYYMMDD_HH24MI'), 'inbox', p.lower_bound, p.upper_bound);
  END LOOP;
END $$;

-- Intake counters, partitioned by day like the endpoint rollups.
ALTER TABLE hookd.intake_minutes RENAME TO intake_minutes_v1;
ALTER INDEX hookd.intake_minutes_pkey RENAME TO intake_minutes_v1_pkey;
CREATE TABLE hookd.intake_minutes (
  source      text NOT NULL,
  minute      timestamptz NOT NULL,
  accepted    integer NOT NULL DEFAULT 0,
  duplicates  integer NOT NULL DEFAULT 0,
  rejected    integer NOT NULL DEFAULT 0,
  PRIMARY KEY (source, minute)
) PARTITION BY RANGE (minute);
DO $$
DECLARE
  p record;
BEGIN
  FOR p IN SELECT lower_bound, upper_bound FROM hookd.partitions WHERE parent = 'endpoint_minutes' LOOP
    EXECUTE format('CREATE TABLE hookd.%I PARTITION OF hookd.intake_minutes FOR VALUES FROM (%L) TO (%L)',
      'intake_minutes_' || to_char(p.lower_bound AT TIME ZONE 'UTC', 'YYYYMMDD_HH24MI'), p.lower_bound, p.upper_bound);
    INSERT INTO hookd.partitions (name, parent, lower_bound, upper_bound)
      VALUES ('intake_minutes_' || to_char(p.lower_bound AT TIME ZONE 'UTC', 'YYYYMMDD_HH24MI'), 'intake_minutes',
        p.lower_bound, p.upper_bound);
  END LOOP;
END $$;
INSERT INTO hookd.intake_minutes
  SELECT v.* FROM hookd.intake_minutes_v1 v
  WHERE EXISTS (SELECT 1 FROM hookd.partitions p WHERE p.parent = 'intake_minutes'
                AND v.minute >= p.lower_bound AND v.minute < p.upper_bound);
DROP TABLE hookd.intake_minutes_v1;
