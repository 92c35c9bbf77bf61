package data

import (
	"context"
	"time"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
)

// What is due, as the overview and the endpoint page both say it. A
// pending delivery is due unless its endpoint's breaker is open: the
// breaker holds it (one probe at a time goes out), so it is counted apart,
// as waiting on the breaker. How long the oldest due has waited is the
// time since its endpoint's oldest pending delivery (the head of its
// line) became due, the longest of the endpoints with a closed breaker.
//
// Each read is bounded: the counts read at most TotalCap+1 queue rows
// each (queue_ready by endpoint ranges that step over the open breakers'
// endpoints, and those endpoints' own ranges), plus one index probe per
// open breaker (endpoint_health_breaker_open); the oldest is one probe per
// endpoint with pending work, as delivery.OldestDue.

// breakerOpen is the condition, on the endpoint id expression ep, that its
// breaker is open (a partial index).
func breakerOpen(ep string) string {
	return `EXISTS (SELECT 1 FROM hookd.endpoint_health bh WHERE bh.endpoint_id = ` + ep + ` AND bh.breaker_opened_at IS NOT NULL)`
}

// dueSQL counts, up to $1 rows each, the pending deliveries of endpoints
// whose breaker is closed, and those of endpoints whose breaker is open.
// The first walks queue_ready in the ranges between the open breakers'
// endpoints (every id sorts after the empty string), so it never reads
// the rows it steps over. A var: it is built from delivery's conditions.
var dueSQL = `WITH b AS (SELECT endpoint_id FROM hookd.endpoint_health WHERE breaker_opened_at IS NOT NULL),
	r AS (SELECT coalesce(lag(endpoint_id) OVER (ORDER BY endpoint_id), '') AS lo, endpoint_id AS hi FROM b)
	SELECT
		(SELECT count(*) FROM (
			(SELECT 1 FROM r, LATERAL (SELECT 1 FROM hookd.queue q
				WHERE q.state = 'pending' AND q.endpoint_id > r.lo AND q.endpoint_id < r.hi LIMIT $1) x)
			UNION ALL
			(SELECT 1 FROM hookd.queue q WHERE q.state = 'pending'
				AND q.endpoint_id > coalesce((SELECT max(endpoint_id) FROM b), '') LIMIT $1)
			LIMIT $1) s),
		(SELECT count(*) FROM (SELECT 1 FROM b, LATERAL (SELECT 1 FROM hookd.queue q
			WHERE ` + delivery.PendingOf("b.endpoint_id") + ` LIMIT $1) x LIMIT $1) s)`

// due sets o's deliveries due now, those waiting on open breakers and how
// long the oldest due has waited, at now.
func due(ctx context.Context, ex db.Executor, now time.Time, o *Overview) error {
	if err := ex.QueryRow(ctx, dueSQL, TotalCap+1).Scan(&o.Pending, &o.BreakerHeld); err != nil {
		return err
	}
	var oldest *time.Time
	err := ex.QueryRow(ctx, `
		WITH RECURSIVE `+delivery.PendingEndpoints+`
		SELECT min(`+headDue("eps.endpoint_id")+`) FROM eps
		WHERE eps.endpoint_id IS NOT NULL AND NOT `+breakerOpen("eps.endpoint_id")).Scan(&oldest)
	if err != nil {
		return err
	}
	o.OldestDue = waited(oldest, now)
	return nil
}

// headDue is a scalar subquery: when endpoint ep's oldest pending delivery
// became due, NULL when none is due yet.
func headDue(ep string) string {
	return `(SELECT q.next_attempt_at FROM hookd.queue q WHERE ` + delivery.PendingOf(ep) + ` ` + delivery.OldestFirst + ` LIMIT 1)`
}

// oldestDueOf returns how long endpoint id's oldest due delivery has
// waited at now, as due reckons it: 0 when none is due or its breaker is
// open.
func oldestDueOf(ctx context.Context, ex db.Executor, id string, now time.Time) (time.Duration, error) {
	var oldest *time.Time
	err := ex.QueryRow(ctx, `SELECT CASE WHEN `+breakerOpen("$1::text")+` THEN NULL ELSE `+headDue("$1::text")+` END`,
		id).Scan(&oldest)
	if err != nil {
		return 0, err
	}
	return waited(oldest, now), nil
}

// waited is how long since t, 0 for nil or a time to come.
func waited(t *time.Time, now time.Time) time.Duration {
	if t == nil || !now.After(*t) {
		return 0
	}
	return now.Sub(*t)
}
