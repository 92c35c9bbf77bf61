package data

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
)

// This file holds reads the console needs that the engine's packages do
// not offer yet. Each is written against today's schema with its cost
// bounded by an index range or a fixed number of rows, never by the size
// of history or the number of endpoints; they belong in core/delivery and
// core/endpoint, and move there when the storage changes:
//
//   - search: deliveries matching terms delivery.List does not take
//     (several endpoints, retrying, status, reason, error text), as a merge
//     of id-ordered index ranges, reading at most ScanLimit deliveries.
//   - groupDead, endpointErrors: deliveries grouped by endpoint and
//     reason over the same bounded ranges.
//   - recent: an endpoint's newest deliveries, one range per state.
//   - endpointPage, findEndpoints, labels: endpoints by id range, by
//     name (at filter time only, never per refresh) and by id.
//   - health: the health of a page of endpoints, by primary key and index
//     ranges of those endpoints only (delivery.HealthOf's "all endpoints or
//     these" predicates read every endpoint's rollups of the last hour).
//   - latency: p95 bucket bounds from the minute rollups.
//   - forwards: the forward deliveries of inbox events, by event id.

// endpointColumns are read for lists: no secret, no custom header (a
// header may hold a credential).
const endpointColumns = `id, kind, url, description, event_types, enabled, disabled_reason, disabled_at,
	rate_limit, max_in_flight, timeout_ms, body_format, previous_secret_expires_at, created_at, updated_at`

func scanEndpoint(row pgx.Row) (*endpoint.Endpoint, error) {
	var e endpoint.Endpoint
	var timeoutMS int64
	err := row.Scan(&e.ID, &e.Kind, &e.URL, &e.Description, &e.EventTypes, &e.Enabled, &e.DisabledReason, &e.DisabledAt,
		&e.RateLimit, &e.MaxInFlight, &timeoutMS, &e.BodyFormat, &e.PreviousSecretExpiresAt, &e.CreatedAt, &e.UpdatedAt)
	e.Timeout = endpoint.Duration(time.Duration(timeoutMS) * time.Millisecond)
	e.Headers = map[string]string{}
	return &e, err
}

// listedKinds are the endpoints the console lists: not hookd's alert URL.
var listedKinds = []string{endpoint.KindWebhook, endpoint.KindForward}

// endpointPage reads a page of endpoints by primary key range (after, up
// to limit), or the given ids; total is counted up to totalCap.
func (p *Postgres) endpointPage(ctx context.Context, q EndpointQuery) (eps []*endpoint.Endpoint, total int, err error) {
	rows, err := p.pool.Query(ctx, `SELECT `+endpointColumns+` FROM hookd.endpoints
		WHERE kind = ANY($1) AND id > $2 AND ($3::text[] IS NULL OR id = ANY($3))
		ORDER BY id LIMIT $4`, listedKinds, q.After, q.IDs, q.Limit+1)
	if err != nil {
		return nil, 0, err
	}
	eps, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*endpoint.Endpoint, error) { return scanEndpoint(r) })
	if err != nil {
		return nil, 0, err
	}
	if q.IDs != nil {
		return eps, len(q.IDs), nil
	}
	err = p.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM hookd.endpoints WHERE kind = ANY($1) LIMIT $2) s`,
		listedKinds, TotalCap+1).Scan(&total)
	return eps, total, err
}

// TotalCap bounds the count of endpoints shown: past it the console says
// "10,000+".
const TotalCap = 10_000

// findEndpoints matches text in endpoints' ids, descriptions and URLs.
// It reads the endpoints table, so it runs when a filter is applied,
// never on refresh.
func (p *Postgres) findEndpoints(ctx context.Context, text string, limit int) ([]Label, error) {
	rows, err := p.pool.Query(ctx, `SELECT id, description, url, enabled, body_format FROM hookd.endpoints
		WHERE kind = ANY($1) AND (id = $2 OR description ILIKE $3 OR url ILIKE $3 OR id ILIKE $3)
		ORDER BY id LIMIT $4`, listedKinds, text, "%"+likeEscape(text)+"%", limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanLabel)
}

func scanLabel(r pgx.CollectableRow) (Label, error) {
	var l Label
	var format string
	err := r.Scan(&l.ID, &l.Description, &l.URL, &l.Enabled, &format)
	l.DataOnly = format == endpoint.BodyData
	return l, err
}

// labels names endpoints by id (primary key lookups).
func (p *Postgres) labels(ctx context.Context, ids []string) (map[string]Label, error) {
	out := map[string]Label{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := p.pool.Query(ctx, `SELECT id, description, url, enabled, body_format FROM hookd.endpoints WHERE id = ANY($1)`, ids)
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
		out[id][m] = a
	}
	return out, rows.Err()
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
// inbox events), keyed by event id, on the (event_id, endpoint_id) index.
func (p *Postgres) forwards(ctx context.Context, eventIDs []string) (map[string]delivery.Delivery, error) {
	out := map[string]delivery.Delivery{}
	if len(eventIDs) == 0 {
		return out, nil
	}
	rows, err := p.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM hookd.deliveries d WHERE d.event_id = ANY($1)`, eventIDs)
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

// health returns the health of the given endpoints: their health rows and
// minute rollups of the last hour by primary key, and their queue counts
// on the per-state partial indexes, so its cost follows len(ids).
func (p *Postgres) health(ctx context.Context, ids []string, now time.Time) (map[string]*delivery.Health, map[string]map[time.Time]minuteAcc, error) {
	out := make(map[string]*delivery.Health, len(ids))
	for _, id := range ids {
		out[id] = &delivery.Health{EndpointID: id, Last5m: delivery.Window{Span: 5 * time.Minute, SuccessRate: 1},
			Last1h: delivery.Window{Span: time.Hour, SuccessRate: 1}}
	}
	rows, err := p.pool.Query(ctx, `SELECT endpoint_id, consecutive_failures, last_status, last_success_at, last_failure_at, failing_since
		FROM hookd.endpoint_health WHERE endpoint_id = ANY($1)`, ids)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var id string
		var h delivery.Health
		if err := rows.Scan(&id, &h.ConsecutiveFailures, &h.LastStatus, &h.LastSuccessAt, &h.LastFailureAt, &h.FailingSince); err != nil {
			rows.Close()
			return nil, nil, err
		}
		if g := out[id]; g != nil {
			g.ConsecutiveFailures, g.LastStatus, g.LastSuccessAt, g.LastFailureAt, g.FailingSince =
				h.ConsecutiveFailures, h.LastStatus, h.LastSuccessAt, h.LastFailureAt, h.FailingSince
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	lat, err := p.latency(ctx, ids, now.Add(-time.Hour).Truncate(time.Minute))
	if err != nil {
		return nil, nil, err
	}
	for id, ms := range lat {
		h := out[id]
		if h == nil {
			continue
		}
		for m, a := range ms {
			addWindow(&h.Last1h, a)
			if m.Add(time.Minute).After(now.Add(-5 * time.Minute)) {
				addWindow(&h.Last5m, a)
			}
		}
	}
	// Each count is an index range of one endpoint and state (the queue's
	// partial indexes, and the dead letters'), so the cost follows the page.
	rows, err = p.pool.Query(ctx, `SELECT e.id,
			(SELECT count(*) FROM hookd.queue q WHERE q.endpoint_id = e.id AND q.state = 'pending'),
			(SELECT count(*) FROM hookd.queue q WHERE q.endpoint_id = e.id AND q.state = 'retrying'),
			(SELECT count(*) FROM hookd.queue q WHERE q.endpoint_id = e.id AND q.state = 'in_flight'),
			(SELECT count(*) FROM hookd.queue q WHERE q.endpoint_id = e.id AND q.state = 'held'),
			(SELECT count(*) FROM hookd.finished f WHERE f.endpoint_id = e.id AND f.state = 'dead')
		FROM unnest($1::text[]) AS e(id)`, ids)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var q delivery.Health
		if err := rows.Scan(&id, &q.Pending, &q.Retrying, &q.InFlight, &q.Held, &q.Dead); err != nil {
			return nil, nil, err
		}
		if h := out[id]; h != nil {
			h.Pending, h.Retrying, h.InFlight, h.Held, h.Dead = q.Pending, q.Retrying, q.InFlight, q.Held, q.Dead
		}
	}
	return out, lat, rows.Err()
}

func addWindow(w *delivery.Window, a minuteAcc) {
	w.Attempts += a.attempts
	w.Successes += a.successes
	if w.Attempts > 0 {
		w.SuccessRate = float64(w.Successes) / float64(w.Attempts)
	}
}
