-- Most deliveries end succeeded and are never listed by state again, while
-- dead letters and queues are. Indexing only the other states saves an
-- index write on every delivery's final update. A query for succeeded
-- deliveries walks the primary key instead, where they are the majority.
DROP INDEX hookd.deliveries_state;
CREATE INDEX deliveries_state ON hookd.deliveries (state, id) WHERE state <> 'succeeded';

