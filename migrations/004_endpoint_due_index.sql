-- The claim looks at each endpoint's own due work, so that one endpoint's
-- backlog neither hides the others' due deliveries nor costs a scan.
CREATE INDEX deliveries_endpoint_due ON hookd.deliveries (endpoint_id, next_attempt_at) WHERE state = 'pending';
