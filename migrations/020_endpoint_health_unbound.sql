-- endpoint_health loses its foreign key to endpoints, as the other
-- per-endpoint tables lost theirs in 005: recording an endpoint's first
-- result locked its queue rows and then, through the key, the endpoint's
-- row, while deleting the endpoint locks the two the other way round, and
-- the two deadlocked. Deleting an endpoint or erasing a tenant deletes
-- their health rows itself (core/delivery), and results are recorded
-- only for endpoints that exist.
ALTER TABLE hookd.endpoint_health DROP CONSTRAINT IF EXISTS endpoint_health_endpoint_id_fkey;
