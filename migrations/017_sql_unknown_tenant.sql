-- A plain SQL producer's event for a tenant that does not exist is
-- refused, as Publish refuses it, rather than stored to reach nobody: the
-- producer's transaction fails with foreign_key_violation (23503) naming
-- the column. The shared lock is the one Publish takes and erasure takes
-- exclusively (outbox.TenantLockClass, 0x6874), so no event slips in
-- beside an erasure; the check after it is a statement of its own, whose
-- snapshot (under read committed, as for Publish) sees an erasure that
-- committed before the lock was granted.
CREATE OR REPLACE FUNCTION hookd.claim_event_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.tenant_id IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock_shared(26740, hashtext(NEW.tenant_id));
    IF NOT EXISTS (SELECT 1 FROM hookd.tenants WHERE id = NEW.tenant_id) THEN
      RAISE EXCEPTION 'tenant_id: tenant % does not exist; create it first (PUT /v1/tenants/% or hookd tenants add %)',
        quote_literal(NEW.tenant_id), NEW.tenant_id, NEW.tenant_id
        USING ERRCODE = 'foreign_key_violation', SCHEMA = 'hookd', TABLE = 'events', COLUMN = 'tenant_id';
    END IF;
  END IF;
  INSERT INTO hookd.event_ids (id, stored_at) VALUES (NEW.id, NEW.stored_at) ON CONFLICT (id) DO NOTHING;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END $$;
