-- Whether the outbound address guard exempts an endpoint: set for the
-- operator's own targets from the configuration (alerts.url, forward_to of
-- intake.sources), which are internal by design. Stored, so that no id or
-- kind can earn the exemption by its name.
ALTER TABLE hookd.endpoints ADD COLUMN trusted boolean NOT NULL DEFAULT false;

UPDATE hookd.endpoints e SET trusted = true
WHERE e.kind = 'alert'
   OR (e.kind = 'forward' AND EXISTS (
         SELECT 1 FROM hookd.sources s WHERE s.from_config AND 'ep_fwd_' || s.name = e.id));
