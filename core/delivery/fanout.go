package delivery

// This file holds the creation of deliveries for new events: the SQL that
// core/outbox puts into its publishing statement, so that an event and its
// deliveries are written by one statement in the producer's transaction.

// FanOutCTE returns CTEs (without a leading comma) that create one queued
// delivery per endpoint an event goes to, for every row of a relation
// named ev with columns seq, id, type, stored_at, endpoint_id, tenant_id
// and broadcast, and wake the lanes of endpoints that had none. Delivery
// ids follow seq (publish order), which fifo endpoints keep. The statement
// must reference fan (its rows: event_id, endpoint_id) and FanOutTail.
//
// An event goes to:
//   - its endpoint_id alone when set (a directed event: intake forwards,
//     alerts), held when that endpoint is disabled;
//   - with broadcast, every enabled webhook endpoint whose filter matches;
//   - with a tenant, that tenant's enabled webhook endpoints whose filter
//     matches;
//   - otherwise, the enabled webhook endpoints without a tenant whose
//     filter matches.
//
// Endpoints are found by index (by tenant, or by the GIN index on the
// patterns an event type can match: the type itself, each "prefix.*" and
// "*"), never by evaluating every endpoint's filter. With lateOnly, only
// endpoints that existed when the event was stored and have no delivery of
// it yet are taken (the fan-out service completing events written by plain
// SQL).
func FanOutCTE(lateOnly bool) string {
	existed := ""
	if lateOnly {
		// Late fan-out is idempotent: an endpoint that has its delivery of
		// the event already (a fan-out cut short) gets no second one.
		existed = ` AND e.created_at <= ev.stored_at
		  AND NOT EXISTS (SELECT 1 FROM hookd.deliveries d WHERE d.event_id = ev.id AND d.endpoint_id = e.id)`
	}
	// The patterns are computed once for each event type of the batch
	// (about 5 µs each), not for every event or for every endpoint a join
	// filter looks at; materialized, so that the planner does not move the
	// call back to the events' rows.
	return `typep AS MATERIALIZED (
		SELECT t.type, hookd.type_patterns(t.type) AS patterns
		FROM (SELECT DISTINCT type FROM ev WHERE endpoint_id IS NULL) t
	), evp AS MATERIALIZED (
		SELECT ev.seq, ev.id, ev.type, ev.stored_at, ev.endpoint_id, ev.tenant_id, ev.broadcast, tp.patterns
		FROM ev LEFT JOIN typep tp ON tp.type = ev.type AND ev.endpoint_id IS NULL
	), targets AS (
		SELECT ev.seq, ev.id, ev.type, ev.stored_at, e.tenant_id, e.id AS endpoint_id, e.enabled
		FROM evp ev JOIN hookd.endpoints e ON e.id = ev.endpoint_id
		WHERE ev.endpoint_id IS NOT NULL
		UNION ALL
		SELECT ev.seq, ev.id, ev.type, ev.stored_at, ev.tenant_id, e.id, true
		FROM evp ev JOIN hookd.endpoints e ON e.tenant_id = ev.tenant_id
		WHERE ev.endpoint_id IS NULL AND ev.tenant_id IS NOT NULL AND NOT ev.broadcast
		  AND e.kind = 'webhook' AND e.enabled AND e.match_types && ev.patterns` + existed + `
		UNION ALL
		SELECT ev.seq, ev.id, ev.type, ev.stored_at, ev.tenant_id, e.id, true
		FROM evp ev JOIN hookd.endpoints e ON e.match_types && ev.patterns
		WHERE ev.endpoint_id IS NULL AND ev.tenant_id IS NULL AND NOT ev.broadcast
		  AND e.tenant_id IS NULL AND e.kind = 'webhook' AND e.enabled` + existed + `
		UNION ALL
		SELECT ev.seq, ev.id, ev.type, ev.stored_at, e.tenant_id, e.id, true
		FROM evp ev JOIN hookd.endpoints e ON e.match_types && ev.patterns
		WHERE ev.broadcast AND e.kind = 'webhook' AND e.enabled` + existed + `
	), fan AS (
		INSERT INTO hookd.queue (event_id, event_stored_at, endpoint_id, tenant_id, event_type, state)
		SELECT id, stored_at, endpoint_id, tenant_id, type, CASE WHEN enabled THEN 'pending' ELSE 'held' END
		FROM targets
		-- Delivery ids in publish order (the feed's): a fifo endpoint
		-- sends in id order, and a batch's events are not in id order.
		ORDER BY seq, endpoint_id
		RETURNING event_id, endpoint_id, state
	), due AS (
		SELECT endpoint_id FROM fan WHERE state = 'pending'
	), ` + wakeCTE("due")
}

// FanOutTail is the expression a statement using FanOutCTE must select, so
// that the lanes are woken.
const FanOutTail = wakeSelect
