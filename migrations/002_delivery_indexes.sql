-- Most deliveries end succeeded and are never listed by state again, while
-- dead letters and queues are. Indexing only the other states saves an
-- index write on every delivery's final update. A query for succeeded
-- deliveries walks the primary key instead, where they are the majority.
DROP INDEX hookd.deliveries_state;
CREATE INDEX deliveries_state ON hookd.deliveries (state, id) WHERE state <> 'succeeded';

-- The claim looks at each endpoint's own due work, so that one endpoint's
-- backlog neither hides the others' due deliveries nor costs a scan.
CREATE INDEX deliveries_endpoint_due ON hookd.deliveries (endpoint_id, next_attempt_at) WHERE state = 'pending';
