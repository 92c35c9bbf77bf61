package data

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
)

// This file holds reads of endpoints and their health that the engine's
// packages do not offer in a form whose cost follows the page (their
// "all endpoints or these" predicates read every endpoint under a generic
// plan). Each reads by primary key or one index range:
//
//   - endpointPage: a page of endpoints by primary key range, or the ids
//     a filter resolved to; the total counted up to TotalCap.
//   - findEndpoints: by name, URL or id (at filter time only, never per
//     refresh), or a tenant's (endpoints_tenant_all).
//   - labels, endpointsByID: by primary key.
//   - health: the health of some endpoints (endpoint_health and the minute
//     rollups by primary key, the queue's partial indexes and
//     finished_dead per endpoint), with the breaker and, for fifo
//     endpoints, the blocked head, as delivery.HealthOf has them.
//   - latency: p95 bucket bounds from the minute rollups.
//   - forwards: the forward deliveries of inbox events (queue_event,
//     finished_event).

// endpointColumns are read for lists: no secret, no custom header (a
// header may hold a credential).
const endpointColumns = `id, kind, url, description, event_types, enabled, disabled_reason, disabled_at,
	rate_limit, max_in_flight, timeout_ms, body_format, previous_secret_expires_at, coalesce(tenant_id, ''), ordering,
	created_at, updated_at`

func scanEndpoint(row pgx.Row) (*endpoint.Endpoint, error) {
	var e endpoint.Endpoint
	var timeoutMS int64
	err := row.Scan(&e.ID, &e.Kind, &e.URL, &e.Description, &e.EventTypes, &e.Enabled, &e.DisabledReason, &e.DisabledAt,
		&e.RateLimit, &e.MaxInFlight, &timeoutMS, &e.BodyFormat, &e.PreviousSecretExpiresAt, &e.Tenant, &e.Ordering,
		&e.CreatedAt, &e.UpdatedAt)
	e.Timeout = endpoint.Duration(time.Duration(timeoutMS) * time.Millisecond)
	e.Headers = map[string]string{}
	return &e, err
}

func collectEndpoints(rows pgx.Rows, err error) ([]*endpoint.Endpoint, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*endpoint.Endpoint, error) { return scanEndpoint(r) })
}

// listedKinds are the endpoints the console lists: not hookd's alert URL.
var listedKinds = []string{endpoint.KindWebhook, endpoint.KindForward}

// endpointPage reads a page of endpoints by primary key range (after, up
// to limit+1), or of the given ids; total is counted up to TotalCap+1.
func (p *Postgres) endpointPage(ctx context.Context, q EndpointQuery) (eps []*endpoint.Endpoint, total int, err error) {
	if q.IDs != nil {
		eps, err = collectEndpoints(p.pool.Query(ctx, `SELECT `+endpointColumns+` FROM hookd.endpoints
			WHERE id = ANY($1) AND kind = ANY($2) AND id > $3 ORDER BY id LIMIT $4`, q.IDs, listedKinds, q.After, q.Limit+1))
		return eps, len(q.IDs), err
	}
	eps, err = collectEndpoints(p.pool.Query(ctx, `SELECT `+endpointColumns+` FROM hookd.endpoints
		WHERE kind = ANY($1) AND id > $2 ORDER BY id LIMIT $3`, listedKinds, q.After, q.Limit+1))
	if err != nil {
		return nil, 0, err
	}
	err = p.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM hookd.endpoints WHERE kind = ANY($1) LIMIT $2) s`,
		listedKinds, TotalCap+1).Scan(&total)
	return eps, total, err
}

// TotalCap bounds the counts of endpoints and tenants shown: past it the
// console says "10,000+".
const TotalCap = 10_000

// endpointsByID reads the given endpoints by primary key.
func (p *Postgres) endpointsByID(ctx context.Context, ids []string) ([]*endpoint.Endpoint, error) {
	return collectEndpoints(p.pool.Query(ctx, `SELECT `+endpointColumns+` FROM hookd.endpoints
		WHERE id = ANY($1) AND kind = ANY($2) ORDER BY id`, ids, listedKinds))
}

// findEndpoints matches text in endpoints' ids, descriptions and URLs, or
// lists a tenant's endpoints (matching text when given). Without a tenant
// it reads the endpoints table, so it runs when a filter is applied,
// never on refresh.
func (p *Postgres) findEndpoints(ctx context.Context, text, tenant string, limit int) ([]Label, error) {
	like := "%" + likeEscape(text) + "%"
	var rows pgx.Rows
	var err error
	if tenant != "" {
		rows, err = p.pool.Query(ctx, `SELECT `+labelCols+`
			FROM hookd.endpoints e
			WHERE tenant_id = $1 AND kind = ANY($2) AND (id = $3 OR description ILIKE $4 OR url ILIKE $4 OR id ILIKE $4)
			ORDER BY tenant_id, created_at, id LIMIT $5`, tenant, listedKinds, text, like, limit)
	} else {
		rows, err = p.pool.Query(ctx, `SELECT `+labelCols+`
			FROM hookd.endpoints e
			WHERE kind = ANY($1) AND (id = $2 OR description ILIKE $3 OR url ILIKE $3 OR id ILIKE $3)
			ORDER BY id LIMIT $4`, listedKinds, text, like, limit)
	}
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanLabel)
}

// labelCols are the columns of a Label, of the endpoints as e, in
// scanLabel's order; the breaker is one probe of its partial index.
var labelCols = `e.id, e.description, e.url, coalesce(e.tenant_id, ''), e.enabled, e.body_format, ` + breakerOpen("e.id")

func scanLabel(r pgx.CollectableRow) (Label, error) {
	var l Label
	var format string
	err := r.Scan(&l.ID, &l.Description, &l.URL, &l.Tenant, &l.Enabled, &format, &l.BreakerOpen)
	l.DataOnly = format == endpoint.BodyData
	return l, err
}

// labels names endpoints by id (primary key lookups).
func (p *Postgres) labels(ctx context.Context, ids []string) (map[string]Label, error) {
	out := map[string]Label{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := p.pool.Query(ctx, `SELECT `+labelCols+` FROM hookd.endpoints e WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	ls, err := pgx.CollectRows(rows, scanLabel)
	for _, l := range ls {
		out[l.ID] = l
	}
	return out, err
}

// latency reads the minute rollups of the given endpoints since since
// (primary key ranges) and returns, per endpoint and per minute, the
// latency buckets summed.
func (p *Postgres) latency(ctx context.Context, ids []string, since time.Time) (map[string]map[time.Time]minuteAcc, error) {
	rows, err := p.pool.Query(ctx, `SELECT endpoint_id, minute, attempts, successes, latency_buckets
		FROM hookd.endpoint_minutes WHERE endpoint_id = ANY($1) AND minute >= $2`, ids, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[time.Time]minuteAcc{}
	for rows.Next() {
		var id string
		var m time.Time
		var a minuteAcc
		var b []int32
		if err := rows.Scan(&id, &m, &a.attempts, &a.successes, &b); err != nil {
			return nil, err
		}
		a.buckets = b
		if out[id] == nil {
			out[id] = map[time.Time]minuteAcc{}
		}
		// A minute may have several rows (shards): add them up.
		if prev, ok := out[id][m]; ok {
			a.attempts += prev.attempts
			a.successes += prev.successes
			a.buckets = addBuckets(prev.buckets, b)
		}
		out[id][m] = a
	}
	return out, rows.Err()
}

// addBuckets returns the element-wise sum of two latency bucket arrays.
func addBuckets(a, b []int32) []int32 {
	out := make([]int32, max(len(a), len(b)))
	copy(out, a)
	for i, v := range b {
		out[i] += v
	}
	return out
}

type minuteAcc struct {
	attempts, successes int
	buckets             []int32
}

// p95Bound returns the upper bound of the bucket holding the 95th
// percentile of the summed buckets, and whether it lies beyond the last
// bound; 0 when there is nothing.
func p95Bound(buckets []int) (time.Duration, bool) {
	total := 0
	for _, n := range buckets {
		total += n
	}
	if total == 0 {
		return 0, false
	}
	rank := 0.95 * float64(total)
	seen := 0
	for i, n := range buckets {
		seen += n
		if float64(seen) >= rank {
			if i >= len(delivery.LatencyBuckets) {
				return delivery.LatencyBuckets[len(delivery.LatencyBuckets)-1], true
			}
			return delivery.LatencyBuckets[i], false
		}
	}
	return delivery.LatencyBuckets[len(delivery.LatencyBuckets)-1], true
}

// forwards returns the deliveries of the given events (the forwards of
// inbox events), keyed by event id, on queue_event and finished_event.
func (p *Postgres) forwards(ctx context.Context, eventIDs []string) (map[string]delivery.Delivery, error) {
	out := map[string]delivery.Delivery{}
	if len(eventIDs) == 0 {
		return out, nil
	}
	rows, err := p.pool.Query(ctx, `SELECT `+queueColumns+` FROM hookd.queue d WHERE d.event_id = ANY($1)
		UNION ALL SELECT `+finishedColumns+` FROM hookd.finished d WHERE d.event_id = ANY($1)`, eventIDs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out[d.EventID] = d
	}
	return out, rows.Err()
}

// healthSpan is how far back health reads the minute rollups: the hour
// of an endpoint's page and list (with the p95's latency buckets), or the
// 5 minutes the overview and previews need (without).
type healthSpan time.Duration

const (
	spanHour = healthSpan(time.Hour)
	span5m   = healthSpan(5 * time.Minute)
)

// health returns the health of the given endpoints: their health rows
// (with the breaker) and minute rollups of the span by primary key (with
// the latency buckets of the last minutes, for the p95), their queue
// counts on the per-state partial indexes and dead letters on
// finished_dead, and the blocked heads of those among fifo, so its cost
// follows len(ids).
func (p *Postgres) health(ctx context.Context, ids, fifo []string, now time.Time, span healthSpan) (map[string]*delivery.Health, map[string]map[time.Time]minuteAcc, error) {
	out := make(map[string]*delivery.Health, len(ids))
	for _, id := range ids {
		out[id] = &delivery.Health{EndpointID: id, Last5m: delivery.Window{Span: 5 * time.Minute, SuccessRate: 1},
			Last1h: delivery.Window{Span: time.Hour, SuccessRate: 1}, Breaker: delivery.Breaker{State: delivery.BreakerClosed}}
	}
	rows, err := p.pool.Query(ctx, `SELECT endpoint_id, consecutive_failures, last_status, last_success_at, last_failure_at,
			failing_since, breaker_opened_at, breaker_probe_at
		FROM hookd.endpoint_health WHERE endpoint_id = ANY($1)`, ids)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var id string
		var h delivery.Health
		var opened, probe *time.Time
		if err := rows.Scan(&id, &h.ConsecutiveFailures, &h.LastStatus, &h.LastSuccessAt, &h.LastFailureAt, &h.FailingSince,
			&opened, &probe); err != nil {
			rows.Close()
			return nil, nil, err
		}
		if g := out[id]; g != nil {
			g.ConsecutiveFailures, g.LastStatus, g.LastSuccessAt, g.LastFailureAt, g.FailingSince =
				h.ConsecutiveFailures, h.LastStatus, h.LastSuccessAt, h.LastFailureAt, h.FailingSince
			if opened != nil {
				g.Breaker = delivery.Breaker{State: delivery.BreakerOpen, OpenedAt: opened, NextProbeAt: probe}
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	// The windows are summed where the rollups are; only the last
	// minutes' latency buckets come back, for the p95.
	cut5m := now.Add(-6 * time.Minute) // a minute overlapping the last five
	rows, err = p.pool.Query(ctx, `SELECT endpoint_id, sum(attempts)::int, sum(successes)::int,
			coalesce(sum(attempts) FILTER (WHERE minute > $3), 0)::int, coalesce(sum(successes) FILTER (WHERE minute > $3), 0)::int
		FROM hookd.endpoint_minutes WHERE endpoint_id = ANY($1) AND minute >= $2 GROUP BY endpoint_id`,
		ids, now.Add(-time.Duration(span)).Truncate(time.Minute), cut5m)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var id string
		var hour, five minuteAcc
		if err := rows.Scan(&id, &hour.attempts, &hour.successes, &five.attempts, &five.successes); err != nil {
			rows.Close()
			return nil, nil, err
		}
		if h := out[id]; h != nil {
			if span == spanHour {
				addWindow(&h.Last1h, hour)
			}
			addWindow(&h.Last5m, five)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	var lat map[string]map[time.Time]minuteAcc
	if span == spanHour {
		if lat, err = p.latency(ctx, ids, cut5m); err != nil {
			return nil, nil, err
		}
	}
	// Each count is an index range of one endpoint and state (the queue's
	// partial indexes, and the dead letters'), read up to TotalCap+1 rows,
	// so the cost follows the page and not the endpoints' backlogs.
	rows, err = p.pool.Query(ctx, `SELECT e.id,
			(SELECT count(*) FROM (SELECT 1 FROM hookd.queue q WHERE q.endpoint_id = e.id AND q.state = 'pending' LIMIT $2) s),
			(SELECT count(*) FROM (SELECT 1 FROM hookd.queue q WHERE q.endpoint_id = e.id AND q.state = 'retrying' LIMIT $2) s),
			(SELECT count(*) FROM (SELECT 1 FROM hookd.queue q WHERE q.endpoint_id = e.id AND q.state = 'in_flight' LIMIT $2) s),
			(SELECT count(*) FROM (SELECT 1 FROM hookd.queue q WHERE q.endpoint_id = e.id AND q.state = 'held' LIMIT $2) s),
			(SELECT count(*) FROM (SELECT 1 FROM hookd.finished f WHERE f.endpoint_id = e.id AND f.state = 'dead' LIMIT $2) s)
		FROM unnest($1::text[]) AS e(id)`, ids, TotalCap+1)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var id string
		var q delivery.Health
		if err := rows.Scan(&id, &q.Pending, &q.Retrying, &q.InFlight, &q.Held, &q.Dead); err != nil {
			rows.Close()
			return nil, nil, err
		}
		if h := out[id]; h != nil {
			h.Pending, h.Retrying, h.InFlight, h.Held, h.Dead = q.Pending, q.Retrying, q.InFlight, q.Held, q.Dead
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return out, lat, p.blockedHeads(ctx, fifo, out)
}

// blockedHeads fills Blocked for the given fifo endpoints whose head has
// failed (see delivery.BlockedHeads).
func (p *Postgres) blockedHeads(ctx context.Context, fifo []string, out map[string]*delivery.Health) error {
	blocked, err := delivery.BlockedHeads(ctx, p.pool, fifo)
	if err != nil {
		return err
	}
	for id, b := range blocked {
		if h := out[id]; h != nil {
			h.Blocked = b
		}
	}
	return nil
}

// fifoOf returns the ids of the fifo endpoints among eps.
func fifoOf(eps []*endpoint.Endpoint) []string {
	var out []string
	for _, e := range eps {
		if e.Ordering == endpoint.OrderingFIFO {
			out = append(out, e.ID)
		}
	}
	return out
}

func addWindow(w *delivery.Window, a minuteAcc) {
	w.Attempts += a.attempts
	w.Successes += a.successes
	if w.Attempts > 0 {
		w.SuccessRate = float64(w.Successes) / float64(w.Attempts)
	}
}
