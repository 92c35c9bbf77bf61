-- Indexes of rare states, so that a page of them reads the rows it shows
-- and not a whole history: a tenant's dead letters (its other history is
-- mostly successes, and the dead of other tenants may be many), and what
-- operators skipped, one delivery at a time, which is few enough to read
-- whole for any endpoint or tenant. Partial on states a delivery reaches
-- rarely, they cost a successful delivery's move into hookd.finished
-- nothing.
CREATE INDEX finished_tenant_dead ON hookd.finished (tenant_id, id) WHERE state = 'dead' AND tenant_id IS NOT NULL;
CREATE INDEX finished_skipped ON hookd.finished (id) WHERE state = 'skipped';
