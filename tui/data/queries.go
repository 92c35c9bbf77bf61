package data

import (
	"context"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
)

// This file holds the console's own read-only aggregate queries (the
// overview's rates and sparklines). Each reads a rollup table or an index
// range over the last minutes, so its cost does not grow with the size of
// hookd.deliveries or hookd.events history.

// endpointQueues returns every webhook and forward endpoint with the parts
// of its health the overview needs: queue counts by state (one index range
// on deliveries_endpoint_state per endpoint and state), consecutive
// failures and the 5-minute success rate from the rollups. Unlike
// delivery.HealthOf it does not read each queued delivery's row.
func (p *Postgres) endpointQueues(ctx context.Context, now time.Time) ([]EndpointRow, error) {
	eps, err := endpoint.List(ctx, p.pool, endpoint.ListParams{Kinds: []string{endpoint.KindWebhook, endpoint.KindForward}})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*delivery.Health, len(eps))
	ids := make([]string, len(eps))
	out := make([]EndpointRow, len(eps))
	for i, e := range eps {
		h := &delivery.Health{EndpointID: e.ID, Last5m: delivery.Window{Span: 5 * time.Minute, SuccessRate: 1}}
		byID[e.ID], ids[i], out[i] = h, e.ID, EndpointRow{Endpoint: e, Health: h}
	}
	rows, err := p.pool.Query(ctx, `SELECT e.id,
			(SELECT count(*) FROM hookd.deliveries d WHERE d.endpoint_id = e.id AND d.state = 'pending'),
			(SELECT count(*) FROM hookd.deliveries d WHERE d.endpoint_id = e.id AND d.state = 'in_flight'),
			(SELECT count(*) FROM hookd.deliveries d WHERE d.endpoint_id = e.id AND d.state = 'held'),
			(SELECT count(*) FROM hookd.deliveries d WHERE d.endpoint_id = e.id AND d.state = 'dead'),
			coalesce(h.consecutive_failures, 0), h.last_status,
			(SELECT coalesce(sum(m.attempts), 0) FROM hookd.endpoint_minutes m WHERE m.endpoint_id = e.id AND m.minute >= $2),
			(SELECT coalesce(sum(m.successes), 0) FROM hookd.endpoint_minutes m WHERE m.endpoint_id = e.id AND m.minute >= $2)
		FROM hookd.endpoints e LEFT JOIN hookd.endpoint_health h ON h.endpoint_id = e.id
		WHERE e.id = ANY($1)`, ids, now.Add(-5*time.Minute).Truncate(time.Minute))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var x delivery.Health
		var attempts, successes int
		if err := rows.Scan(&id, &x.Pending, &x.InFlight, &x.Held, &x.Dead, &x.ConsecutiveFailures, &x.LastStatus,
			&attempts, &successes); err != nil {
			return nil, err
		}
		h := byID[id]
		if h == nil {
			continue
		}
		h.Pending, h.InFlight, h.Held, h.Dead, h.ConsecutiveFailures, h.LastStatus =
			x.Pending, x.InFlight, x.Held, x.Dead, x.ConsecutiveFailures, x.LastStatus
		if attempts > 0 {
			h.Last5m.Attempts, h.Last5m.Successes = attempts, successes
			h.Last5m.SuccessRate = float64(successes) / float64(attempts)
		}
	}
	return out, rows.Err()
}

// rates fills the per-second rates, the oldest due delivery and the intake
// counters.
func (p *Postgres) rates(ctx context.Context, now time.Time, o *Overview) error {
	minuteStart := now.Truncate(time.Minute).Add(-time.Minute)
	var events, attempts, retrying int64
	var oldest, first *time.Time
	err := p.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM hookd.events WHERE created_at > $1::timestamptz - interval '1 minute' AND created_at <= $1::timestamptz),
			(SELECT coalesce(sum(attempts), 0) FROM hookd.endpoint_minutes WHERE minute >= $2),
			(SELECT min(next_attempt_at) FROM hookd.deliveries WHERE state = 'pending' AND next_attempt_at <= $1::timestamptz),
			(SELECT coalesce(sum(accepted), 0) FROM hookd.intake_minutes WHERE minute >= $3),
			(SELECT coalesce(sum(duplicates), 0) FROM hookd.intake_minutes WHERE minute >= $3),
			(SELECT coalesce(sum(rejected), 0) FROM hookd.intake_minutes WHERE minute >= $3),
			(SELECT count(*) FROM hookd.deliveries WHERE state = 'pending' AND next_attempt_at > $1::timestamptz),
			(SELECT min(created_at) FROM hookd.events)`,
		now, minuteStart, now.Add(-time.Hour).Truncate(time.Minute)).
		Scan(&events, &attempts, &oldest, &o.Accepted, &o.Duplicates, &o.Rejected, &retrying, &first)
	if err != nil {
		return err
	}
	o.Retrying = int(retrying)
	// Events count over the last minute; the attempt rollup is per minute,
	// so attempts count over the previous minute and the current one so
	// far. Neither span reaches back before the first event.
	o.EventsPerSec = perSecond(events, now.Add(-time.Minute), first, now)
	o.AttemptsPerSec = perSecond(attempts, minuteStart, first, now)
	if oldest != nil && now.After(*oldest) {
		o.OldestDue = now.Sub(*oldest)
	}
	return nil
}

// sparks fills the per-minute series of the last SparkMinutes minutes.
func (p *Postgres) sparks(ctx context.Context, now time.Time, o *Overview) error {
	end := now.Truncate(time.Minute)
	start := end.Add(-(SparkMinutes - 1) * time.Minute)
	o.EventsPerMinute = make([]int, SparkMinutes)
	o.AttemptsPerMinute = make([]int, SparkMinutes)
	o.FailuresPerMinute = make([]int, SparkMinutes)
	slot := func(t time.Time) int {
		i := int(t.Sub(start) / time.Minute)
		if i < 0 || i >= SparkMinutes {
			return -1
		}
		return i
	}
	rows, err := p.pool.Query(ctx, `SELECT date_trunc('minute', created_at) AS m, count(*)
		FROM hookd.events WHERE created_at >= $1 AND created_at <= $2 GROUP BY 1`, start, now)
	if err != nil {
		return err
	}
	for rows.Next() {
		var m time.Time
		var n int
		if err := rows.Scan(&m, &n); err != nil {
			rows.Close()
			return err
		}
		if i := slot(m); i >= 0 {
			o.EventsPerMinute[i] += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = p.pool.Query(ctx, `SELECT minute, sum(attempts), sum(attempts - successes)
		FROM hookd.endpoint_minutes WHERE minute >= $1 GROUP BY 1`, start)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var m time.Time
		var a, f int
		if err := rows.Scan(&m, &a, &f); err != nil {
			return err
		}
		if i := slot(m); i >= 0 {
			o.AttemptsPerMinute[i] += a
			o.FailuresPerMinute[i] += f
		}
	}
	return rows.Err()
}

// perSecond averages n over the part of the window from start to now that
// hookd's history covers: from start, or from first (the first event ever,
// nil when there is none) when that is later, so a system in its first
// minute is not averaged over time it has not lived. The span is at least
// a second.
func perSecond(n int64, start time.Time, first *time.Time, now time.Time) float64 {
	if first != nil && first.After(start) {
		start = *first
	}
	return float64(n) / max(now.Sub(start).Seconds(), 1)
}
