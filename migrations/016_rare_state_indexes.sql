-- Indexes of rare states, so that a page of them reads the rows it shows
-- and not a whole history: a tenant's dead letters (its other history is
-- mostly successes, and the dead of other tenants may be many), and what
-- operators skipped, one delivery at a time, which is few enough to read
-- whole for any endpoint or tenant. Partial on states a delivery reaches
-- rarely, they cost a successful delivery's move into hookd.finished
-- nothing.
CREATE INDEX finished_tenant_dead ON hookd.finished (tenant_id, id) WHERE state = 'dead' AND tenant_id IS NOT NULL;
CREATE INDEX finished_skipped ON hookd.finished (id) WHERE state = 'skipped';

-- Pending deliveries attempted before: a fifo line's head waiting out its
-- backoff (listed as retrying), and retries come due or leases expired,
-- about to be claimed. Without it, an endpoint's retrying list read its
-- whole pending line to find the head. A delivery attempted at first try
-- never enters it.
CREATE INDEX queue_backoff ON hookd.queue (endpoint_id, id) WHERE state = 'pending' AND attempts > 0;
